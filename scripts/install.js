#!/usr/bin/env node
// npm "install" script. The native addon is an accelerator, not a requirement: every kernel has a pure-TS
// twin, so the native part must never make `npm install hotpath` fail (ws makes bufferutil optional; sharp
// prints one line and carries on when its binary is unavailable). Steps:
//   1. a prebuild (or an earlier build) that loads in this Node → done, nothing compiled;
//   2. otherwise build from source with node-gyp (output kept in native-build.log);
//   3. if that fails, print one line on stderr and exit 0: the package loads on the pure-TS backend.
// HOTPATH_BACKEND=native turns step 3 into a failed install; HOTPATH_BACKEND=js skips the build.
// Plain CommonJS with no dependencies: it runs before the TypeScript build exists (prepare runs after).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const logFile = path.join(root, 'native-build.log');
const platform = `${process.platform}-${process.arch}`;
const backend = process.env.HOTPATH_BACKEND;
const fromSource = process.env.npm_config_build_from_source === 'true';

/** Runs a Node script in a child so a crashing addon cannot take the installer down with it. */
function addonLoads() {
  const probe = `require(require('node-gyp-build').path(${JSON.stringify(root)}))`;
  return spawnSync(process.execPath, ['-e', probe], { cwd: root, stdio: 'ignore' }).status === 0;
}

/** node-gyp: our devDependency in a clone, else the one npm bundles (npm_config_node_gyp), else PATH. */
function nodeGypCommand() {
  try {
    return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] })];
  } catch {
    const bundled = process.env.npm_config_node_gyp;
    if (bundled && fs.existsSync(bundled)) return [process.execPath, bundled];
    return [process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp'];
  }
}

/** The most telling line of a failed build: a compiler error, a missing tool, or node-gyp's own error. */
function failureReason(output, fallback) {
  const lines = output
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  const patterns = [
    /fatal error: .*/, // a missing header
    /\berror: .*/, // the first compiler or linker error
    /gyp ERR! stack Error: (.*)/, // "not found: make", "Could not find any Python installation to use"
    /gyp ERR! find \w+ (.*)/,
    /gyp ERR! (?!stack|System|command|cwd|node -v|node-gyp -v|not ok)(.*)/,
  ];
  for (const pattern of patterns) {
    for (const line of lines) {
      const match = pattern.exec(line);
      if (match) return (match[1] ?? match[0]).slice(0, 200);
    }
  }
  return fallback;
}

function buildFromSource() {
  const [command, ...args] = nodeGypCommand();
  const run = spawnSync(command, [...args, 'rebuild'], { cwd: root, encoding: 'utf8', windowsHide: true });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  if (run.error) return { ok: false, output, reason: `cannot run node-gyp: ${run.error.message}` };
  if (run.status !== 0) {
    return { ok: false, output, reason: failureReason(output, `node-gyp exited with ${run.status}`) };
  }
  if (!addonLoads()) return { ok: false, output, reason: 'the built addon does not load' };
  return { ok: true, output, reason: null };
}

function main() {
  if (backend === 'js') return 0;
  if (!fromSource && addonLoads()) return 0;
  const build = buildFromSource();
  if (build.ok) {
    fs.rmSync(logFile, { force: true });
    return 0;
  }
  fs.writeFileSync(logFile, build.output);
  if (backend === 'native') {
    process.stderr.write(build.output);
    process.stderr.write(`hotpath: HOTPATH_BACKEND=native but the native build failed (${build.reason})\n`);
    return 1;
  }
  process.stderr.write(
    `hotpath: no prebuilt binary for ${platform}; native build failed (${build.reason}); ` +
      'using the pure-TS backend — see `npx hotpath doctor`\n',
  );
  return 0;
}

process.exitCode = main();
