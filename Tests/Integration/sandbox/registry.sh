#!/usr/bin/env bash
# A throwaway OCI registry for the sandbox tests (issue 7): Debian's docker-registry (distribution
# v2) on 127.0.0.1 with its storage in a temp dir, and small images built with umoci from
# busybox-static and pushed with skopeo.
#
#   registry.sh start WORKDIR            start a registry; prints its port (state kept in WORKDIR)
#   registry.sh push WORKDIR IMAGE REPO  build IMAGE (price-median | files) and push it to REPO:latest;
#                                        prints the pushed manifest digest (sha256:...)
#   registry.sh stop WORKDIR             stop the registry and remove WORKDIR
#
# Everything lives under WORKDIR (a fresh temp dir chosen by the caller), so `stop` leaves nothing
# behind. Needs: docker-registry, umoci, skopeo, busybox-static, python3 (to find a free port).
set -euo pipefail

die() { echo "registry.sh: $*" >&2; exit 1; }

[[ $# -ge 2 ]] || die "usage: registry.sh start|push|stop WORKDIR ..."
cmd=$1
work=$2
[[ "$work" == /* ]] || die "WORKDIR must be an absolute path"

close_inherited_fds() {
    local fd
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        # 255 is where bash reads this script from.
        if [[ $fd -gt 2 && $fd -ne 255 ]]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
    mkdir -p "$work/storage"
    [[ ! -e "$work/registry.pid" ]] || die "a registry is already running for $work"
    local attempt port
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        cat >"$work/config.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
YML
        # The registry outlives this script: it must not hold any descriptor the caller waits on
        # (a test reading our output to EOF would hang), so everything but 0-2 is closed for it.
        (close_inherited_fds; exec docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 </dev/null) &
        echo $! >"$work/registry.pid"
        echo "$port" >"$work/port"
        local i
        for i in $(seq 1 100); do
            if curl -fsS -o /dev/null "http://127.0.0.1:$port/v2/" 2>/dev/null; then
                echo "$port"
                return 0
            fi
            if ! kill -0 "$(cat "$work/registry.pid")" 2>/dev/null; then
                break  # the port was taken between our probe and its bind: try another one
            fi
            sleep 0.05
        done
        stop_registry
    done
    die "docker-registry did not start (see $work/registry.log)"
}

stop_registry() {
    if [[ -f "$work/registry.pid" ]]; then
        local pid
        pid=$(cat "$work/registry.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$work/registry.pid"
    fi
}

# The price-median job: reads every fetched JSON input under /input/ (one file per source, e.g.
# {"price": 123.45}) and prints the median price. An odd count prints the middle value as written;
# an even count prints the mean of the two middle values.
median_script() {
    cat <<'SH'
#!/bin/sh
set -eu
for f in /input/*; do
    [ -f "$f" ] || continue
    awk 'BEGIN { RS = "\001" }
         {
             if (match($0, /"price"[ \t\r\n]*:[ \t\r\n]*-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?/)) {
                 v = substr($0, RSTART, RLENGTH); sub(/^"price"[ \t\r\n]*:[ \t\r\n]*/, "", v); print v
             } else { print "no price in " FILENAME > "/dev/stderr"; exit 2 }
         }' "$f"
done | sort -g | awk '{ v[NR] = $0 }
    END {
        if (NR == 0) { print "no inputs" > "/dev/stderr"; exit 3 }
        if (NR % 2 == 1) print v[(NR + 1) / 2]
        else printf "%.10g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
    }'
SH
}

push() {
    local image=$1 repo=$2
    [[ -f "$work/port" ]] || die "no registry started in $work"
    local port build
    port=$(cat "$work/port")
    build=$(mktemp -d "$work/build.XXXXXX")
    umoci init --layout "$build/oci" >/dev/null
    umoci new --image "$build/oci:latest" >/dev/null
    umoci unpack --image "$build/oci:latest" "$build/bundle" >/dev/null
    local root=$build/bundle/rootfs
    mkdir -p "$root/bin" "$root/tmp" "$root/job" "$root/etc"
    chmod 1777 "$root/tmp"
    cp /bin/busybox "$root/bin/busybox"
    local applet
    for applet in sh awk sort cat echo ls sleep head yes dd true false env id; do
        ln -s busybox "$root/bin/$applet"
    done
    echo "nobody:x:65534:65534:nobody:/:/bin/false" >"$root/etc/passwd"
    local -a entrypoint
    case "$image" in
        price-median)
            median_script >"$root/job/median.sh"
            chmod 0755 "$root/job/median.sh"
            entrypoint=(--config.entrypoint /bin/sh --config.entrypoint /job/median.sh)
            ;;
        files)
            echo "hello from the test image" >"$root/job/hello.txt"
            mkdir -p "$root/job/nested/dir"
            echo "deep" >"$root/job/nested/dir/file.txt"
            entrypoint=(--config.entrypoint /bin/cat --config.entrypoint /job/hello.txt)
            ;;
        *) die "unknown image $image (price-median | files)" ;;
    esac
    umoci repack --image "$build/oci:latest" "$build/bundle" >/dev/null
    umoci config --image "$build/oci:latest" "${entrypoint[@]}" \
        --config.workingdir / --config.user 65534:65534 --config.env PATH=/bin \
        --architecture amd64 --os linux >/dev/null
    skopeo copy --quiet --dest-tls-verify=false --digestfile "$build/digest" \
        "oci:$build/oci:latest" "docker://127.0.0.1:$port/$repo:latest" >/dev/null
    cat "$build/digest"
    echo
    rm -rf "$build"
}

case "$cmd" in
    start) start ;;
    push) [[ $# -eq 4 ]] || die "usage: registry.sh push WORKDIR IMAGE REPO"; push "$3" "$4" ;;
    stop) stop_registry; rm -rf "$work" ;;
    *) die "unknown command $cmd" ;;
esac
