#!/usr/bin/env bash
# Build dist/ with tsc, but only when the TypeScript sources (or tsconfig.json,
# or the installed dependencies) changed since the last build: a start on an
# unchanged checkout costs a hash of the sources (tens of ms), not a compile.
# The stamp holds a hash of the contents, so a touch or a branch switch that
# ends on the same files does not rebuild, and any edit does.
set -euo pipefail
cd "$(dirname "$0")/.."

# The folders tsconfig.json includes.
folders=(common store gateway replicator topology pki loadtest cli)
present=()
for f in "${folders[@]}"; do [ -d "$f" ] && present+=("$f"); done

# One build at a time (`./ferry sub ... &` then `./ferry pub ...` on a fresh
# checkout): the second waits, then finds the stamp current.
mkdir -p dist
exec 9>dist/.ferry-build-lock
flock 9

stamp=dist/.ferry-build-stamp
state=$(
  {
    sha256sum tsconfig.json
    [ -f package-lock.json ] && sha256sum package-lock.json
    find "${present[@]}" -name '*.ts' -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
    if [ -d console/src ]; then find console/src console/build.mjs -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum; fi
  } | sha256sum | cut -d' ' -f1
)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$state" ] && [ -f dist/cli/ferry.js ] && { [ ! -d console/src ] || [ -f console/dist/console.js ]; }; then
  exit 0
fi
echo "setup: building (sources changed since the last build)" >&2
npx tsc -p tsconfig.json >&2
# The web console (Preact + htm + uPlot, bundled by esbuild into console/dist).
if [ -f console/build.mjs ]; then node console/build.mjs >&2; fi
echo "$state" > "$stamp"
