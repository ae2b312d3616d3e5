// Mutated count-min and TopK buffers for fromBuffer: bit flips, header fields set to edge values, truncation and
// extension, with the checksum usually recomputed so the mutation reaches the parser instead of the checksum test.
// Both backends (where the addon loaded) read the same bytes; they must agree on accepting them and on what they hold.
import { usableBackends } from './targets.mjs';

/** Raised for a wrong answer (the backends disagree): reported as a failure, unlike an ordinary Error. */
export class Finding extends Error {
  constructor(message) {
    super(message);
    this.name = 'Finding';
  }
}

const EDGE_U32 = [0, 1, 2, 3, 63, 64, 65, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];
const EDGE_U64 = [0n, 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 2n, 2n ** 64n - 1n];
/** Header fields of the HPCM format (docs/api.md): [offset, size in bytes]. */
const SKETCH_FIELDS = [
  [4, 2],
  [6, 1],
  [7, 1],
  [8, 4],
  [12, 4],
  [16, 8],
  [24, 8],
];

function writeChecksum(hp, bytes, start, end) {
  if (end - start < 8 || start < 0) return;
  const sum = hp.xxhash64(bytes.subarray(start, end - 8));
  new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(end - 8, sum, true);
}

function mutate(rng, bytes, fields) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const roll = rng.int(0, 5);
  if (roll === 0 && bytes.length > 0) {
    for (let flips = rng.int(1, 4); flips > 0; flips--) bytes[rng.int(0, bytes.length - 1)] ^= 1 << rng.int(0, 7);
  } else if (roll === 1 || roll === 2) {
    const [offset, size] = rng.pick(fields);
    if (offset + size > bytes.length) return bytes;
    if (size === 8) view.setBigUint64(offset, rng.pick(EDGE_U64), true);
    else if (size === 4) view.setUint32(offset, rng.pick(EDGE_U32), true);
    else if (size === 2) view.setUint16(offset, rng.pick([0, 1, 2, 0xffff]), true);
    else view.setUint8(offset, rng.pick([0, 1, 2, 3, 0x80, 0xff]));
  } else if (roll === 3) {
    return bytes.slice(0, rng.int(0, bytes.length));
  } else if (roll === 4) {
    const grown = new Uint8Array(bytes.length + rng.pick([1, 7, 8, 4096]));
    grown.set(bytes);
    return grown;
  } else if (bytes.length > 0) {
    bytes[rng.int(0, bytes.length - 1)] = rng.pick([0, 0x7f, 0x80, 0xff]);
  }
  return bytes;
}

/** The bytes in a hostile memory: a plain copy, an odd offset into a larger buffer, shared memory or a Node Buffer. */
function place(rng, bytes) {
  const roll = rng.int(0, 3);
  if (roll === 1) {
    const offset = rng.int(1, 7);
    const larger = new Uint8Array(bytes.length + offset + 3).fill(0xa5);
    larger.set(bytes, offset);
    return larger.subarray(offset, offset + bytes.length);
  }
  if (roll === 2) {
    const shared = new Uint8Array(new SharedArrayBuffer(bytes.length));
    shared.set(bytes);
    return shared;
  }
  return roll === 3 ? Buffer.from(bytes) : bytes;
}

function loadEach(Type, bytes, backends) {
  return backends.map((backend) => {
    try {
      return { value: Type.fromBuffer(bytes, { backend }) };
    } catch (error) {
      return { error };
    }
  });
}

/** One case: build a sketch or TopK, serialize, mutate, load on both backends, compare and exercise the result. */
export function mutatedBufferCase(rng, hp) {
  const isTopK = rng.chance(0.4);
  const backends = usableBackends(hp);
  const backend = rng.pick(backends);
  const counter = rng.pick(['u32', 'u64']);
  const width = rng.int(1, 200);
  const depth = rng.int(1, 5);
  const original = isTopK
    ? new hp.TopK(rng.int(1, 10), { width, depth, counter, backend, seed: rng.int(0, 9) })
    : hp.CountMinSketch.withDimensions(width, depth, {
        counter,
        backend,
        seed: rng.int(0, 9),
        conservative: rng.chance(0.5),
      });
  const keys = Array.from({ length: rng.int(0, 300) }, () =>
    rng.chance(0.9) ? `k${rng.int(0, 40)}` : rng.int(0, 1e6),
  );
  original.updateMany(
    keys,
    keys.map(() => rng.int(0, rng.pick([1, 1000, 2 ** 31]))),
  );

  let bytes = new Uint8Array(original.toBuffer());
  const sketchStart = isTopK ? Buffer.from(bytes).indexOf('HPCM') : 0;
  const fields = isTopK
    ? [[4, 2], [6, 2], [8, 4], [12, 4], ...SKETCH_FIELDS.map(([o, s]) => [o + sketchStart, s])]
    : SKETCH_FIELDS;
  for (let rounds = rng.int(1, 3); rounds > 0; rounds--) bytes = mutate(rng, bytes, fields);
  if (rng.chance(0.8)) {
    if (isTopK) writeChecksum(hp, bytes, sketchStart, bytes.length - 8);
    writeChecksum(hp, bytes, 0, bytes.length);
  }
  const Type = isTopK ? hp.TopK : hp.CountMinSketch;
  const [first, second = first] = loadEach(Type, place(rng, bytes), backends);
  if (!first.value !== !second.value) {
    throw new Finding(
      `backends disagree on accepting the buffer: native ${first.error ?? 'accepts'}, ` +
        `js ${second.error ?? 'accepts'}`,
    );
  }
  if (!first.value) throw first.error;
  const [a, b] = [first.value, second.value];
  if (Buffer.compare(a.toBuffer(), b.toBuffer()) !== 0) {
    throw new Finding('backends re-serialize the buffer differently');
  }
  for (const key of keys.slice(0, 20)) {
    if (a.estimate(key) !== b.estimate(key)) throw new Finding(`backends disagree on estimate(${String(key)})`);
  }
  a.update('new key', rng.int(0, 10));
  a.merge(Type.fromBuffer(a.toBuffer()));
  return a.toBuffer().length;
}
