#!/usr/bin/env bash
# Checks that the committed compose file is current and valid (`docker-compose config -q`,
# which needs no engine). Installs docker-compose (Debian package) if it is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if ! diff -q <(bash "$here/gen-compose.sh" 4) "$here/docker-compose.yml" >/dev/null; then
  echo "compose: docker-compose.yml is stale; run: bash Deploy/compose/gen-compose.sh 4 > Deploy/compose/docker-compose.yml" >&2
  exit 1
fi
if ! command -v docker-compose >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-compose >/dev/null
fi
docker-compose -f "$here/docker-compose.yml" config -q
echo "compose: docker-compose.yml is valid ($(grep -c '^  node' "$here/docker-compose.yml") services)"
