#!/usr/bin/env bash
# The release prebuilds, built where each can be built on a Debian bookworm machine (root, apt):
#   sysroot              create (once, cached) a Debian 11 "bullseye" chroot: glibc 2.31, g++ 10 and the
#                        aarch64 cross compiler with bullseye's arm64 glibc; prints its path
#   build <target>...    linux-x64 / linux-arm64 in that chroot, win32-x64 with the host's mingw-w64
#   chroot <command>     run a shell command in the chroot, with the repository and the cache folder
#                        mounted at the same paths (used to test the prebuild on an old glibc)
# Caches live in ${TMPDIR:-/tmp} (HOTPATH_CACHE overrides): one chroot per package list, reused by later runs.
# Builds go through scripts/prebuild-cross.mjs; prebuilds/manifest.json records what was built from what
# (scripts/check-prebuilds.mjs, run by prepack, compares it with the tree).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${HOTPATH_CACHE:-${TMPDIR:-/tmp}}
mirror=${HOTPATH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
chroot_packages=g++,make,g++-aarch64-linux-gnu
chroot_dir="$cache/hotpath-bullseye-$(printf '%s' "$chroot_packages" | sha256sum | cut -c1-8)"

need_root() {
  [ "$(id -u)" -eq 0 ] || { echo "prebuilds.sh: $1 needs root (debootstrap, chroot, mount namespaces)" >&2; exit 1; }
}

make_sysroot() {
  if [ ! -x "$chroot_dir/usr/bin/aarch64-linux-gnu-g++" ]; then
    need_root "creating the bullseye chroot"
    command -v debootstrap >/dev/null || { echo "prebuilds.sh: debootstrap is not installed" >&2; exit 1; }
    # Built beside its final path and renamed at the end, so an interrupted run never leaves a half chroot.
    local partial="$chroot_dir.partial"
    rm -rf "$partial"
    debootstrap --variant=minbase --include="$chroot_packages" bullseye "$partial" "$mirror" >"$partial.log" 2>&1 ||
      { tail -n 20 "$partial.log" >&2; exit 1; }
    mv "$partial" "$chroot_dir"
  fi
  echo "$chroot_dir"
}

# Runs "$@" in a private mount namespace where the chroot sees the repository, the cache, /proc and /dev.
in_chroot() {
  need_root "running in the chroot"
  make_sysroot >/dev/null
  unshare -m bash -euo pipefail -c '
    chroot_dir=$1 root=$2 cache=$3; shift 3
    for dir in "$root" "$cache"; do mkdir -p "$chroot_dir$dir"; mount --bind "$dir" "$chroot_dir$dir"; done
    mount -t proc proc "$chroot_dir/proc"
    mount --rbind /dev "$chroot_dir/dev"
    exec chroot "$chroot_dir" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root TMPDIR=/tmp CI="${CI:-}" \
      bash -c "cd \"$root\" && $*"
  ' in-chroot "$chroot_dir" "$root" "$cache" "$@"
}

build() {
  local target=$1
  case "$target" in
    linux-x64 | linux-arm64)
      need_root "building $target"
      make_sysroot >/dev/null
      unshare -m bash -euo pipefail -c '
        chroot_dir=$1 root=$2 target=$3
        mkdir -p "$chroot_dir$root"; mount --bind "$root" "$chroot_dir$root"
        node "$root/scripts/prebuild-cross.mjs" "$target" --chroot "$chroot_dir"
      ' build "$chroot_dir" "$root" "$target"
      ;;
    win32-x64)
      command -v x86_64-w64-mingw32-g++-posix >/dev/null ||
        { echo "prebuilds.sh: win32-x64 needs g++-mingw-w64-x86-64-posix" >&2; exit 1; }
      node "$root/scripts/prebuild-cross.mjs" win32-x64
      ;;
    *) echo "prebuilds.sh: unknown target '$target'" >&2; exit 2 ;;
  esac
  node "$root/scripts/check-prebuilds.mjs" --record "$target"
}

case "${1:-}" in
  sysroot) make_sysroot ;;
  build) shift; for target in "$@"; do build "$target"; done ;;
  chroot) shift; in_chroot "$*" ;;
  *) echo "usage: prebuilds.sh sysroot | build <target>... | chroot <command>" >&2; exit 2 ;;
esac
