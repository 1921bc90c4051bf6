#!/usr/bin/env bash
# Start the local three-site network on loopback and keep it running: etcd, a
# nats-server per site joined as a supercluster, a dev PKI, and gateways a, b, c
# (public/default replicates to all three; anonymous loopback clients land there).
# Site a listens on MQTT 1883, MQTT/TLS 8883, HTTP+WS 8080, HTTPS+WSS 8443; site b on
# 1884/8884/8081/8444; site c on 1885/8885/8082/8445. Prints one READY {...} line
# with every address once all sites replicate. Data, PKI and logs in .data/network;
# later starts reuse them. `scripts/start.sh --standalone` runs a single dev site instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "${1:-}" = "--standalone" ]; then
  shift
  mkdir -p .data/dev
  exec node --initial-old-space-size=64 --max-semi-space-size=8 --single-threaded-gc dist/cli/ferry.js gateway --dev --site dev --data .data/dev \
    --mqtt "${FERRY_MQTT_PORT:-1883}" --mqtts "${FERRY_MQTTS_PORT:-8883}" \
    --http "${FERRY_HTTP_PORT:-8080}" --https "${FERRY_HTTPS_PORT:-8443}" "$@"
fi
mkdir -p .data/network
exec node dist/cli/ferry.js dev --sites a,b,c --dir .data/network --well-known-ports "$@"
