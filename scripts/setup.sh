#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine: Debian packages the project
# needs, npm dependencies, and the TypeScript build (when sources changed).
# Run by start.sh, test.sh and ./ferry; each step does nothing when done.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: real services and peers the tests and benchmarks talk to
# (etcd, nats-server, mosquitto and its clients, chromium for console tests).
# Installed only when missing.
need=()
command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  echo "setup: installing Debian packages: ${need[*]}" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
  # Debian starts the services it installs (where systemd runs): a mosquitto on 1883 or an etcd on
  # 2379 we just installed would take the dev network's ports. Tests and benchmarks start their own.
  if command -v systemctl >/dev/null 2>&1; then
    for svc in mosquitto etcd; do
      if printf '%s\n' "${need[@]}" | grep -qx "$svc\|$svc-server"; then $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
    done
  fi
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.ferry-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  cp package-lock.json "$stamp"
fi

# tap's plugin set is compiled into node_modules (npx tap build). package.json leaves out tap's TypeScript
# plugin (ts-node: ~2 s of CPU per test file on this project) and loads tsx instead (--import=tsx), so tap must
# be rebuilt after every npm ci, and whenever package.json's "tap.plugin" list changes.
tap_plugins=$(node -p 'JSON.stringify(require("./package.json").tap?.plugin ?? [])')
tap_stamp=node_modules/.ferry-tap-plugins
if [ ! -f "$tap_stamp" ] || [ "$(cat "$tap_stamp")" != "$tap_plugins" ]; then
  echo "setup: tap build (plugins $tap_plugins)" >&2
  npx tap build >&2
  printf '%s' "$tap_plugins" > "$tap_stamp"
fi

# The TypeScript build, only when the sources changed since the last one.
bash scripts/build.sh
