#!/usr/bin/env bash
# Start a standalone dev site on loopback: MQTT 1883, MQTT/TLS 8883, HTTP+WS 8080, HTTPS+WSS 8443.
# Data and throwaway certificates live in .data/dev (created on first run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p .data/dev
exec node dist/cli/ferry.js gateway --dev --site dev --data .data/dev \
  --mqtt "${FERRY_MQTT_PORT:-1883}" --mqtts "${FERRY_MQTTS_PORT:-8883}" \
  --http "${FERRY_HTTP_PORT:-8080}" --https "${FERRY_HTTPS_PORT:-8443}" "$@"
