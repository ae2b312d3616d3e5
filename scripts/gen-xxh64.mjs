// Writes src/countmin/xxh64.ts, the pure-TS xxHash64, from the templates below. Why generated: in 32-bit
// arithmetic one 64-bit multiply is ~20 operations, and xxh64 has a dozen of them. Written as helper functions,
// V8 inlines some and calls others, and which ones depends on the order it optimizes them in, so the same code
// ran anywhere from 270 to 340 ns for a 103-byte key from one process to the next. Expanded in one function
// with the primes' halves as literals, it runs at ~200 ns every time. The templates keep one copy of each step.
// test/docs.test.ts checks the file is current. Usage: node scripts/gen-xxh64.mjs [--check]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(root, 'src', 'countmin', 'xxh64.ts');

const MASK64 = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;
const primeNames = new Map([
  [P1, 'P1'],
  [P2, 'P2'],
  [P3, 'P3'],
  [P4, 'P4'],
  [P5, 'P5'],
]);

/** A 32-bit word as the int32 literal the code compares and adds with. */
const int32 = (word) => String(Number(BigInt.asIntN(32, word)));
const hiWord = (c) => int32((c & MASK64) >> 32n);
const loWord = (c) => int32(c & MASK64);

let serial = 0;
/** Names for one template's temporaries, unique in the function. */
const fresh = (...names) => {
  serial += 1;
  return names.map((name) => `${name}${serial}`);
};

/**
 * (dstHi, dstLo) = (xHi, xLo) * c + add mod 2^64, c and add constants. xHi null: x is one 32-bit word. The
 * high word of xLo * (c's low word) is summed from 16-bit halves (each partial product < 2^32, so exact in a
 * double); the cross terms only need their low words (Math.imul).
 */
function mul(dstHi, dstLo, xHi, xLo, c, add = 0n) {
  const cLo = c & 0xffffffffn;
  const [low, high, mid, product, sumLo] = fresh('low', 'high', 'mid', 'product', 'sumLo');
  const cross = `${xHi === null ? '' : `Math.imul(${xHi}, ${loWord(c)}) + `}Math.imul(${xLo}, ${hiWord(c)})`;
  const x = xHi === null ? xLo : `(${xHi}, ${xLo})`;
  const lines = [
    `// (${dstHi}, ${dstLo}) = ${x} * ${primeNames.get(c)}${add === 0n ? '' : ` + ${primeNames.get(add)}`}`,
    `const ${low} = ${xLo} & 0xffff, ${high} = ${xLo} >>> 16;`,
    `const ${mid} = ${high} * ${cLo & 0xffffn} + ((${low} * ${cLo & 0xffffn}) >>> 16);`,
    `const ${product} = Math.imul(${xLo}, ${loWord(c)});`,
  ];
  const highSum =
    `${high} * ${cLo >> 16n} + (${mid} >>> 16) + (((${mid} & 0xffff) + ${low} * ${cLo >> 16n}) >>> 16) + ` + cross;
  if (add === 0n) {
    lines.push(`${dstHi} = (${highSum}) | 0;`, `${dstLo} = ${product};`);
  } else {
    lines.push(
      `const ${sumLo} = (${product} + ${loWord(add)}) | 0;`,
      `${dstHi} = (${highSum} + ${hiWord(add)} + (${sumLo} >>> 0 < ${product} >>> 0 ? 1 : 0)) | 0;`,
      `${dstLo} = ${sumLo};`,
    );
  }
  return lines;
}

/** (dstHi, dstLo) = rotl((xHi, xLo), r) for a constant 0 < r < 32. */
const rotl = (dstHi, dstLo, xHi, xLo, r) => [
  `const ${dstHi} = (${xHi} << ${r}) | (${xLo} >>> ${32 - r}), ${dstLo} = (${xLo} << ${r}) | (${xHi} >>> ${32 - r});`,
];

/** The little-endian 32-bit word at bytes[base + offset], offset a constant. */
const read32 = (base, offset = 0) =>
  [0, 1, 2, 3]
    .map((k) => `${k ? '(' : ''}bytes[${base}${offset + k ? ` + ${offset + k}` : ''}]${k ? ` << ${8 * k})` : ''}`)
    .join(' | ');

/** (dstHi, dstLo) = round(acc, lane) = rotl(acc + lane * P2, 31) * P1; accHi/accLo null: acc = 0. */
function round(dstHi, dstLo, accHi, accLo, laneHi, laneLo) {
  const [productHi, productLo, sumHi, sumLo, rotHi, rotLo] = fresh('pHi', 'pLo', 'sHi', 'sLo', 'rHi', 'rLo');
  const lines = [
    `let ${productHi}: number, ${productLo}: number;`,
    ...block(mul(productHi, productLo, laneHi, laneLo, P2)),
  ];
  // acc = 0: the sum is the product itself.
  const sum = accHi === null ? [productHi, productLo] : [sumHi, sumLo];
  if (accHi !== null) {
    lines.push(
      `const ${sumLo} = (${accLo} + ${productLo}) | 0;`,
      `const ${sumHi} = (${accHi} + ${productHi} + (${sumLo} >>> 0 < ${productLo} >>> 0 ? 1 : 0)) | 0;`,
    );
  }
  return [...lines, ...rotl(rotHi, rotLo, ...sum, 31), ...block(mul(dstHi, dstLo, rotHi, rotLo, P1))];
}

const block = (lines) => ['{', ...lines, '}'];

/**
 * h = rotl(h ^ g, r) * c + add, (hh, hl) in place: the step that folds each stripe accumulator (r = 0: no
 * rotation), each remaining 8-byte lane, 4-byte word and byte into h. input(gHi, gLo) writes g.
 */
function absorb(input, r, c, add = 0n) {
  const [gHi, gLo, xHi, xLo, rotHi, rotLo] = fresh('gHi', 'gLo', 'xHi', 'xLo', 'rotHi', 'rotLo');
  const rotated = r === 0 ? [xHi, xLo] : [rotHi, rotLo];
  return [
    `let ${gHi}: number, ${gLo}: number;`,
    ...block(input(gHi, gLo)),
    `const ${xHi} = hh ^ ${gHi}, ${xLo} = hl ^ ${gLo};`,
    ...(r === 0 ? [] : rotl(rotHi, rotLo, xHi, xLo, r)),
    ...block(mul('hh', 'hl', ...rotated, c, add)),
  ];
}

/** (h, carry) += constant c: the seed plus a prime into one stripe accumulator (v[i], v[i + 1]). */
const seedPlus = (i, c) => [
  `v[${i + 1}] = (seedLo + ${loWord(c)}) | 0;`,
  `v[${i}] = (seedHi + ${hiWord(c)} + (v[${i + 1}] >>> 0 < seedLo >>> 0 ? 1 : 0)) | 0;`,
];

function source() {
  serial = 0;
  const body = [
    'const length = end - start;',
    'let hh: number, hl: number;',
    'let p = start;',
    'if (length >= 32) {',
    '// The four stripe accumulators v1..v4 = seed + P1 + P2, seed + P2, seed, seed - P1, one round per 8 bytes.',
    'const v = stripes;',
    ...seedPlus(0, P1 + P2),
    ...seedPlus(2, P2),
    'v[4] = seedHi;',
    'v[5] = seedLo;',
    ...seedPlus(6, -P1),
    'for (; p <= end - 32; p += 32) {',
    'for (let i = 0; i < 8; i += 2) {',
    'const at = p + 4 * i;',
    `const laneLo = ${read32('at')}, laneHi = ${read32('at', 4)};`,
    'let nextHi: number, nextLo: number;',
    ...block(round('nextHi', 'nextLo', 'v[i]', 'v[i + 1]', 'laneHi', 'laneLo')),
    'v[i] = nextHi;',
    'v[i + 1] = nextLo;',
    '}',
    '}',
    '// h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)',
    'hh = 0;',
    'hl = 0;',
    'for (let i = 0; i < 8; i += 2) {',
    'const r = STRIPE_ROTATIONS[i >> 1];',
    'const rotHi = (v[i] << r) | (v[i + 1] >>> (32 - r)), rotLo = (v[i + 1] << r) | (v[i] >>> (32 - r));',
    'const sumLo = (hl + rotLo) | 0;',
    'hh = (hh + rotHi + (sumLo >>> 0 < hl >>> 0 ? 1 : 0)) | 0;',
    'hl = sumLo;',
    '}',
    '// then, for each accumulator, h = (h ^ round(0, v)) * P1 + P4',
    'for (let i = 0; i < 8; i += 2) {',
    ...absorb((gHi, gLo) => round(gHi, gLo, null, null, 'v[i]', 'v[i + 1]'), 0, P1, P4),
    '}',
    '} else {',
    `hl = (seedLo + ${loWord(P5)}) | 0;`,
    `hh = (seedHi + ${hiWord(P5)} + (hl >>> 0 < seedLo >>> 0 ? 1 : 0)) | 0;`,
    '}',
    '// h += length (below 2^53: its high word is exact as a double quotient)',
    'const withLength = (hl + length) | 0;',
    'hh = (hh + Math.floor(length / 4294967296) + (withLength >>> 0 < hl >>> 0 ? 1 : 0)) | 0;',
    'hl = withLength;',
    'p = end - (length & 31);',
    'for (; p + 8 <= end; p += 8) {',
    '// h = rotl(h ^ round(0, lane), 27) * P1 + P4',
    `const laneLo = ${read32('p')}, laneHi = ${read32('p', 4)};`,
    ...absorb((gHi, gLo) => round(gHi, gLo, null, null, 'laneHi', 'laneLo'), 27, P1, P4),
    '}',
    'if (p + 4 <= end) {',
    '// h = rotl(h ^ (word * P1), 23) * P2 + P3',
    `const word = ${read32('p')};`,
    ...absorb((gHi, gLo) => mul(gHi, gLo, null, 'word', P1), 23, P2, P3),
    'p += 4;',
    '}',
    'for (; p < end; p++) {',
    '// h = rotl(h ^ (byte * P5), 11) * P1',
    'const byte = bytes[p];',
    ...absorb((gHi, gLo) => mul(gHi, gLo, null, 'byte', P5), 11, P1),
    '}',
    '// Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.',
    'hl ^= hh >>> 1;',
    'let ah: number, al: number;',
    ...block(mul('ah', 'al', 'hh', 'hl', P2)),
    'al ^= (al >>> 29) | (ah << 3);',
    'ah ^= ah >>> 29;',
    'let fh: number, fl: number;',
    ...block(mul('fh', 'fl', 'ah', 'al', P3)),
    'lastHash[0] = fh;',
    'lastHash[1] = fl ^ fh;',
  ];
  return [
    '// Generated by scripts/gen-xxh64.mjs from its templates: edit those and run it, not this file (the script',
    '// says why the steps are written out). Pure-TS xxHash64 (spec v0.1.1) in 32-bit arithmetic: a 64-bit value is',
    '// a (hi, lo) pair of int32 words. Matches native/countmin/countmin_kernel.cc bit for bit (test/countmin.test.ts',
    '// checks both against published vectors and the reference implementation).',
    '',
    '/** The last hash computed by xxh64(): [high 32 bits, low 32 bits]. */',
    'export const lastHash = new Uint32Array(2);',
    '',
    '/** The stripe accumulators v1..v4 of a key of 32 bytes or more, as (hi, lo) pairs. */',
    'const stripes = new Int32Array(8);',
    'const STRIPE_ROTATIONS = Int32Array.of(1, 7, 12, 18);',
    '',
    '/** xxHash64 of bytes[start, end) with seed (seedHi, seedLo); the result lands in lastHash. */',
    'export function xxh64(bytes: Uint8Array, start: number, end: number, seedHi: number, seedLo: number): void {',
    ...body,
    '}',
  ].join('\n');
}

const options = { ...(await prettier.resolveConfig(file)), parser: 'typescript' };
const text = await prettier.format(source(), options);
if (process.argv.includes('--check')) {
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
    console.error('src/countmin/xxh64.ts is out of date: run `node scripts/gen-xxh64.mjs`');
    process.exit(1);
  }
} else {
  fs.writeFileSync(file, text);
}
