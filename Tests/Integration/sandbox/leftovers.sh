#!/usr/bin/env bash
# After the test suite (issue 7): nothing of the sandbox may be left on the host — no runc
# container, no cgroup under a vn-* parent, no mount, no registry process, no temp directory of
# the sandbox tests. Exit 1 and list what is left otherwise.
set -uo pipefail

left=()
# runc containers: the default root and any state directory under /tmp the tests used.
for root in /run/runc /tmp/vn-*/runc/runc /tmp/vn-*/state/runc; do
    [[ -d "$root" ]] || continue
    while read -r id _; do
        [[ -n "$id" && "$id" != ID ]] && left+=("runc container $id (root $root)")
    done < <(runc --root "$root" list 2>/dev/null)
done
# cgroups (v1 hierarchies and the unified one) under a vn-* parent.
for dir in /sys/fs/cgroup/*/vn-* /sys/fs/cgroup/vn-*; do
    [[ -d "$dir" ]] && left+=("cgroup $dir")
done
# mounts made for a run.
while read -r line; do left+=("mount: $line"); done < <(grep -E '/vn-(sandbox|exec|s2|executor)' /proc/self/mountinfo || true)
# registries started by registry.sh.
while read -r pid; do left+=("docker-registry process $pid"); done < <(pgrep -f 'docker-registry serve' || true)
# temp directories of the sandbox tests and the bench.
for dir in /tmp/vn-executor-* /tmp/vn-s1-registry-* /tmp/vn-s2-* /tmp/vn-module-* /tmp/vn-bench-sandbox-*; do
    [[ -e "$dir" ]] && left+=("temp $dir")
done

if ((${#left[@]})); then
    echo "sandbox leftovers after the tests:" >&2
    printf '  %s\n' "${left[@]}" >&2
    exit 1
fi
echo "sandbox: nothing left behind (no container, cgroup, mount, registry or temp directory)"
