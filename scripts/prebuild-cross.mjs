#!/usr/bin/env node
// Builds one release prebuild with a given toolchain, without node-gyp: node-gyp can only target the Node that
// runs it, and these builds target other C libraries and operating systems:
//   linux-x64    g++ of a Debian 11 (glibc 2.31) chroot        → runs on glibc ≥ 2.31
//   linux-arm64  aarch64-linux-gnu-g++ of the same chroot       → its arm64 sysroot is bullseye's glibc 2.31
//   win32-x64    x86_64-w64-mingw32-g++-posix (host)            → linked against node.exe's N-API exports
// libstdc++ and libgcc are linked statically (Windows: winpthread too), so the binary needs only the C library
// and Node itself. Sources, defines and flags come from native/sources.json and native/build-flags.json, as
// for binding.gyp and CMakeLists.txt. Output: prebuilds/<target>/hotpath.node, stripped.
//
// Usage: node scripts/prebuild-cross.mjs <target> [--chroot DIR]
// With --chroot the compiler runs as `chroot DIR <compiler>`: the repository must be visible at the same path
// inside (scripts/bullseye.sh bind-mounts it).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createRequire } from 'node:module';

const root = path.resolve(import.meta.dirname, '..');
const require = createRequire(path.join(root, 'package.json'));

const targets = {
  'linux-x64': { cxx: 'g++', strip: 'strip', os: 'linux' },
  'linux-arm64': { cxx: 'aarch64-linux-gnu-g++', strip: 'aarch64-linux-gnu-strip', os: 'linux' },
  'win32-x64': {
    cxx: 'x86_64-w64-mingw32-g++-posix',
    strip: 'x86_64-w64-mingw32-strip',
    dlltool: 'x86_64-w64-mingw32-dlltool',
    os: 'win32',
  },
};

const { positionals, values } = parseArgs({ allowPositionals: true, options: { chroot: { type: 'string' } } });
const name = positionals[0];
const target = targets[name];
if (positionals.length !== 1 || !target) {
  console.error(`usage: prebuild-cross.mjs <${Object.keys(targets).join('|')}> [--chroot DIR]`);
  process.exit(2);
}
const wrap = (command) => (values.chroot ? ['chroot', values.chroot, ...command] : command);

const sources = JSON.parse(fs.readFileSync(path.join(root, 'native/sources.json'), 'utf8'));
const flags = JSON.parse(fs.readFileSync(path.join(root, 'native/build-flags.json'), 'utf8'));
const includeDirs = [...flags.include_dirs, ...(target.os === 'win32' ? flags.include_dirs_win32 : [])].map((dir) =>
  path.join(root, dir),
);
// node-addon-api's include_dir is relative to the working directory.
includeDirs.push(path.resolve(require('node-addon-api').include_dir), require('node-api-headers').include_dir);

const compileFlags = [
  ...flags.cflags_cc,
  ...flags.defines.map((define) => `-D${define}`),
  '-DBUILDING_NODE_EXTENSION',
  ...includeDirs.map((dir) => `-I${dir}`),
  ...(target.os === 'linux' ? ['-fPIC', '-fvisibility=hidden', '-pthread'] : []),
];

const objectDir = path.join(root, 'build-cross', name);
const output = path.join(root, 'prebuilds', name, 'hotpath.node');
fs.rmSync(objectDir, { recursive: true, force: true });
fs.mkdirSync(objectDir, { recursive: true });
fs.mkdirSync(path.dirname(output), { recursive: true });

function run([command, ...args]) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.slice(-3).join(' ')} failed (${signal ?? code})`)),
    );
  });
}

/** Runs the commands with at most `limit` at a time; rejects on the first failure. */
async function runAll(commands, limit) {
  const queue = [...commands];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length > 0) await run(queue.shift());
  });
  await Promise.all(workers);
}

/** node.exe's import library, from the .def files that node-api-headers ships (one symbol per line). */
function windowsImportLibrary() {
  const { def_paths: defPaths } = require('node-api-headers');
  const symbols = Object.values(defPaths).flatMap((file) =>
    fs
      .readFileSync(file, 'utf8')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !/^(NAME|LIBRARY|EXPORTS)\b/.test(line)),
  );
  const def = path.join(objectDir, 'node.def');
  fs.writeFileSync(def, ['LIBRARY node.exe', 'EXPORTS', ...symbols, ''].join('\n'));
  return { def, lib: path.join(objectDir, 'libnode.a') };
}

const started = Date.now();
const objects = sources.map((source) => path.join(objectDir, source.replaceAll('/', '_').replace(/\.cc$/, '.o')));
await runAll(
  sources.map((source, i) => wrap([target.cxx, '-c', ...compileFlags, path.join(root, source), '-o', objects[i]])),
  os.availableParallelism(),
);
if (target.os === 'linux') {
  await run(
    wrap([
      target.cxx,
      '-shared',
      '-pthread',
      '-static-libstdc++',
      '-static-libgcc',
      '-Wl,--exclude-libs,ALL',
      '-Wl,-z,noexecstack',
      '-o',
      output,
      ...objects,
      '-ldl',
    ]),
  );
} else {
  const { def, lib } = windowsImportLibrary();
  await run(wrap([target.dlltool, '-d', def, '-l', lib, '-D', 'node.exe']));
  await run(wrap([target.cxx, '-shared', '-static', '-o', output, ...objects, lib]));
}
// A separate strip: bullseye's ld 2.35 with `-s` emits PLT relocations for the ifunc (AVX2) clones that
// glibc rejects at load ("unexpected PLT reloc type 0x00").
await run(wrap([target.strip, '--strip-unneeded', output]));
console.log(`${path.relative(root, output)}: ${fs.statSync(output).size} bytes in ${(Date.now() - started) / 1000} s`);
