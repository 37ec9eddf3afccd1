#!/usr/bin/env bash
# Builds the node-gyp addon of the package in the current directory against
# the headers of the Node that runs it (never downloaded), incrementally.
set -euo pipefail
nodedir=$(dirname "$(dirname "$(command -v node)")")
if [ ! -f "$nodedir/include/node/node_api.h" ]; then
  echo "build-addon: no Node headers under $nodedir/include/node; install your distribution's Node development headers" >&2
  exit 1
fi
gyp=(node-gyp --nodedir="$nodedir" --loglevel=warn)  # on PATH under pnpm run
if [ ! -f build/Makefile ] || [ binding.gyp -nt build/Makefile ]; then
  "${gyp[@]}" configure
fi
# The addon links the core's static libraries (packages/native-core), which
# gyp does not count as inputs: relink when one is newer than the addon.
for addon in build/Release/*.node; do
  for lib in ../../native-core/build/*.a; do
    if [ -f "$addon" ] && [ "$lib" -nt "$addon" ]; then rm -f "$addon"; fi
  done
done
"${gyp[@]}" build --jobs=2
