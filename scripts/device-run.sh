#!/usr/bin/env bash
# Runs `npm run device-check` on a GPU machine that has a copy of this working tree and the .device/
# bundle (scripts/device-bundle.sh) but possibly no Node.js, npm, network or ICD loader. Run from
# anywhere; no arguments. It unpacks Node, dist/ and node_modules from .device/, puts the prebuilt
# addon where the loader finds it (rebuilding it with g++ if it does not load there), prints the
# machine, then runs scripts/device-check.mjs within the time left. Into $OUT (default ./device-out)
# it writes device-run.log (everything printed) and device-check.json. Exit status: device-check's
# (0 all OpenCL tests passed on every device), 3 when the bundle cannot run here.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${OUT:-$root/device-out}
mkdir -p "$out"
exec > >(tee "$out/device-run.log") 2>&1
limit=${HOTPATH_DEVICE_RUN_SECONDS:-570} # the whole script, setup included (the device tool allows 600)

fail() {
  echo "device-run: $*"
  exit 3
}

section() { echo; echo "## $*"; }

section "machine"
uname -a
grep -h PRETTY_NAME /etc/os-release 2>/dev/null
ldd --version 2>/dev/null | head -1
echo "cpus: $(nproc 2>/dev/null), memory: $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
command -v nvidia-smi >/dev/null &&
  nvidia-smi --format=csv --query-gpu=name,driver_version,memory.total,pcie.link.gen.max,pcie.link.width.max
echo "registered OpenCL drivers:"
for icd in /etc/OpenCL/vendors/*.icd; do [ -f "$icd" ] && echo "  $icd: $(head -1 "$icd")"; done
loader=$(ldconfig -p 2>/dev/null | awk '/libOpenCL\.so\.1/ { print $NF; exit }')
echo "ICD loader: ${loader:-none in the ldconfig cache}"

section "unpacking .device"
[ -f .device/node.xz ] && [ -f .device/payload.tar.xz ] ||
  fail ".device/ is missing: carry it (scripts/device-bundle.sh makes it)"
# xz, else Python's lzma: either is on practically every Linux.
unxz_to() {
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"
  else
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  fi
}
tools=$root/.device/run
mkdir -p "$tools/bin"
unxz_to .device/node.xz "$tools/bin/node" || fail "cannot decompress Node"
chmod +x "$tools/bin/node"
export PATH="$tools/bin:$PATH"
node --version || fail "the bundled Node does not run here (it needs glibc 2.28 or later)"
unxz_to .device/payload.tar.xz "$tools/payload.tar" && tar -xf "$tools/payload.tar" && rm "$tools/payload.tar" ||
  fail "cannot unpack dist/ and node_modules/"

section "addon"
addon=prebuilds/linux-x64/hotpath.node
mkdir -p "$(dirname "$addon")"
cp .device/hotpath.node "$addon"
loads() { node -e "require('./$addon')" 2>&1; }
if ! why=$(loads); then
  echo "the prebuilt addon does not load: $why"
  command -v "${CXX:-g++}" >/dev/null || fail "no g++ to rebuild it"
  echo "rebuilding it with $(${CXX:-g++} --version | head -1)"
  scripts/device-build-addon.sh "$addon" || fail "the addon build failed"
  why=$(loads) || fail "the rebuilt addon does not load either: $why"
fi
node dist/cli/main.js doctor

section "device-check"
budget=$((limit - SECONDS - 45)) # device-check's own bound; 45 s for a case that overruns it and the copy
echo "time left for device-check: $budget s"
HOTPATH_DEVICE_CHECK_SECONDS=$budget timeout -k 10 $((budget + 30)) node scripts/device-check.mjs
status=$?
[ "$status" = 124 ] && echo "device-check did not finish in time: the JSON holds what it had measured"
cp bench/results/device-check.json "$out/" 2>/dev/null || echo "no bench/results/device-check.json"
echo "device-run: exit $status after $SECONDS s"
exit "$status"
