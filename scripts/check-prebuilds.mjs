#!/usr/bin/env node
// Guards the release tarball (npm "prepack"): every prebuild that README promises must be present, built by
// scripts/prebuilds.sh from the current native sources, and portable:
//   linux-*: ELF of the right machine, no GLIBC symbol version newer than 2.31, no libstdc++/libgcc_s needed;
//   win32-x64: PE32+ x86-64 importing only node.exe and Windows system DLLs.
// A dev build (`npm run build:gyp` writes prebuilds/linux-x64 against the host's newer glibc) fails the check
// because its hash is not the one prebuilds/manifest.json recorded.
//   node scripts/check-prebuilds.mjs            verify; exit 1 with the reasons
//   node scripts/check-prebuilds.mjs --build    rebuild what fails (scripts/prebuilds.sh), then verify
//   node scripts/check-prebuilds.mjs --record T record target T's fresh build in the manifest
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '..');
const manifestPath = path.join(root, 'prebuilds', 'manifest.json');

/** The prebuilds the package promises (README's platform table). */
export const promised = {
  'linux-x64': { format: 'elf', machine: 62 /* EM_X86_64 */ },
  'linux-arm64': { format: 'elf', machine: 183 /* EM_AARCH64 */ },
  'win32-x64': { format: 'pe', machine: 0x8664 },
};
const maxGlibc = [2, 31];
const allowedLinuxLibraries = /^(libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|ld-linux-[\w-]+\.so\.\d)$/;
const allowedWindowsLibraries = /^(node\.exe|kernel32\.dll|msvcrt\.dll|api-ms-win-[\w-]+\.dll)$/i;

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex');
const binaryPath = (target) => path.join(root, 'prebuilds', target, 'hotpath.node');

/** Hash of everything a prebuild is made from: native/ (sources, vendored headers, flags) and the build script. */
function sourceHash() {
  const files = fs
    .readdirSync(path.join(root, 'native'), { recursive: true })
    .map((file) => path.join('native', file))
    .filter((file) => fs.statSync(path.join(root, file)).isFile());
  files.push('scripts/prebuild-cross.mjs');
  const hash = crypto.createHash('sha256');
  for (const file of files.sort()) hash.update(`${file}\0`).update(fs.readFileSync(path.join(root, file)));
  return hash.digest('hex');
}

function readManifest() {
  return fs.existsSync(manifestPath) ? JSON.parse(fs.readFileSync(manifestPath, 'utf8')) : {};
}

/** ELF: machine, NEEDED libraries and GLIBC_x.y versions, read with binutils' readelf. */
function inspectElf(file) {
  const header = fs.readFileSync(file).subarray(0, 20);
  if (header.readUInt32BE(0) !== 0x7f454c46) return { error: 'not an ELF file' };
  const machine = header.readUInt16LE(18);
  const run = spawnSync('readelf', ['--wide', '--dynamic', '--version-info', file], { encoding: 'utf8' });
  if (run.status !== 0) return { error: `readelf failed: ${run.error?.message ?? run.stderr.trim()}` };
  const needed = [...run.stdout.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const versions = [
    ...new Set([...run.stdout.matchAll(/Name: (GLIBC_[\d.]+|GLIBCXX_[\d.]+|CXXABI_[\d.]+)/g)].map((m) => m[1])),
  ];
  return { machine, needed, versions };
}

/** PE: machine and imported DLL names, from the import directory. */
function inspectPe(file) {
  const data = fs.readFileSync(file);
  if (data.readUInt16LE(0) !== 0x5a4d) return { error: 'not a PE file' };
  const pe = data.readUInt32LE(0x3c);
  if (data.readUInt32LE(pe) !== 0x4550) return { error: 'no PE signature' };
  const machine = data.readUInt16LE(pe + 4);
  const sectionCount = data.readUInt16LE(pe + 6);
  const optionalSize = data.readUInt16LE(pe + 20);
  const optional = pe + 24;
  if (data.readUInt16LE(optional) !== 0x20b) return { error: 'not PE32+' };
  const importRva = data.readUInt32LE(optional + 112 + 8); // data directory 1: the import table
  const sections = Array.from({ length: sectionCount }, (_, i) => {
    const at = optional + optionalSize + i * 40;
    return { rva: data.readUInt32LE(at + 12), size: data.readUInt32LE(at + 8), raw: data.readUInt32LE(at + 20) };
  });
  const offset = (rva) => {
    const section = sections.find((s) => rva >= s.rva && rva < s.rva + s.size);
    if (!section) throw new Error(`RVA ${rva} is in no section`);
    return rva - section.rva + section.raw;
  };
  const needed = [];
  for (let at = offset(importRva); data.readUInt32LE(at + 12) !== 0; at += 20) {
    const name = offset(data.readUInt32LE(at + 12));
    needed.push(data.toString('latin1', name, data.indexOf(0, name)));
  }
  return { machine, needed };
}

/** Why `file` can't be the target's prebuild (format, machine, C library versions, linked libraries), or null. */
export function portabilityProblem(target, file) {
  const { format, machine } = promised[target];
  const info = format === 'elf' ? inspectElf(file) : inspectPe(file);
  if (info.error) return info.error;
  if (info.machine !== machine) return `machine ${info.machine}, expected ${machine}`;
  if (format === 'elf') {
    const tooNew = info.versions.filter((v) => {
      if (!v.startsWith('GLIBC_')) return true; // GLIBCXX/CXXABI: libstdc++ must be linked statically
      const [major, minor = 0] = v.slice(6).split('.').map(Number);
      return major > maxGlibc[0] || (major === maxGlibc[0] && minor > maxGlibc[1]);
    });
    if (tooNew.length > 0) return `needs ${tooNew.join(', ')} (at most GLIBC_${maxGlibc.join('.')})`;
  }
  const allowed = format === 'elf' ? allowedLinuxLibraries : allowedWindowsLibraries;
  const foreign = info.needed.filter((name) => !allowed.test(name));
  if (foreign.length > 0) return `links ${foreign.join(', ')}`;
  return null;
}

/** Why the target's prebuild can't ship (missing, not the recorded build, stale, not portable), or null. */
function problem(target, manifest, hash) {
  const file = binaryPath(target);
  if (!fs.existsSync(file)) return 'missing';
  const entry = manifest[target];
  if (!entry) return 'not recorded in prebuilds/manifest.json (not built by scripts/prebuilds.sh)';
  if (entry.sha256 !== sha256(fs.readFileSync(file))) return 'replaced since scripts/prebuilds.sh built it';
  if (entry.sources !== hash) return 'built from older native sources';
  return portabilityProblem(target, file);
}

function verify() {
  const manifest = readManifest();
  const hash = sourceHash();
  return Object.keys(promised)
    .map((target) => ({ target, why: problem(target, manifest, hash) }))
    .filter(({ why }) => why !== null);
}

function main() {
  const { values } = parseArgs({ options: { build: { type: 'boolean' }, record: { type: 'string' } } });
  if (values.record) {
    if (!promised[values.record]) throw new RangeError(`unknown target '${values.record}'`);
    const manifest = readManifest();
    manifest[values.record] = { sha256: sha256(fs.readFileSync(binaryPath(values.record))), sources: sourceHash() };
    fs.writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
    const why = problem(values.record, manifest, manifest[values.record].sources);
    if (why) {
      console.error(`prebuilds/${values.record}: ${why}`);
      return 1;
    }
    return 0;
  }
  let failing = verify();
  if (failing.length > 0 && values.build) {
    const targets = failing.map(({ target }) => target);
    console.error(`check-prebuilds: building ${targets.join(', ')}`);
    spawnSync('bash', [path.join(root, 'scripts/prebuilds.sh'), 'build', ...targets], { stdio: 'inherit' });
    failing = verify();
  }
  for (const { target, why } of failing) console.error(`prebuilds/${target}: ${why}`);
  if (failing.length > 0) {
    console.error(
      'check-prebuilds: the tarball would lack prebuilds that README promises; build them with ' +
        '`bash scripts/prebuilds.sh build <target>` (root, debootstrap, mingw-w64; see .ci/platforms.sh)',
    );
    return 1;
  }
  console.log(`check-prebuilds: ${Object.keys(promised).join(', ')} present, current and portable`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = main();
