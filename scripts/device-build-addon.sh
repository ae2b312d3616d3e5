#!/usr/bin/env bash
# Builds the addon with plain g++ (no node-gyp, no cmake, no network) into $1, for the GPU-machine
# bundle: glibc symbols pinned to old versions (scripts/device-glibc-compat.*), so one binary loads on
# older distributions. libstdc++ stays shared: linked statically, it pulls in glibc 2.34-2.36 symbols
# (pthread in libc, arc4random, _dl_find_object) that cannot be pinned. scripts/device-bundle.sh
# runs it here; scripts/device-run.sh runs it on the machine only if that binary does not load there.
# Headers: node_modules/node-addon-api and node-api-headers, and the vendored OpenCL headers. Needs node
# (the bundle's, on the GPU machine) to read native/build-flags.json.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/device-build-addon.sh OUT.node}
cxx=${CXX:-g++}
objects=$(mktemp -d)
trap 'rm -rf "$objects"' EXIT
# The defines, include dirs and C++ flags binding.gyp and CMakeLists.txt use (native/build-flags.json).
read -r -a flags <<<"$(node -p "const f = require('./native/build-flags.json');
  [...f.cflags_cc, ...f.defines.map((d) => '-D' + d), ...f.include_dirs.map((d) => '-I' + d)].join(' ')")"
flags+=(-fPIC -pthread -Inode_modules/node-addon-api -Inode_modules/node-api-headers/include
  -include scripts/device-glibc-compat.h)
sources="$(node -p "require('./native/sources.json').join(' ')") scripts/device-glibc-compat.cc"
jobs=$(nproc 2>/dev/null || echo 2)
# One compiler per core: the sources are independent.
printf '%s\n' $sources | xargs -P "$jobs" -I{} sh -c '"$0" "$@" -c {} -o "'"$objects"'/$(echo {} | tr / _).o"' "$cxx" "${flags[@]}"
"$cxx" -shared -pthread -Wl,--as-needed -o "$out" "$objects"/*.o -ldl
echo "built $out"
