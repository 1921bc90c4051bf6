#!/usr/bin/env bash
# Run the whole test suite (tap), after set-up. Extra arguments go to tap.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec npx tap "$@"
