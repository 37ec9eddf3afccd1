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
"${gyp[@]}" build --jobs=2
