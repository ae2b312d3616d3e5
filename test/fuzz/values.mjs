// Hostile values: what a careless or malicious caller can hand the API. Near-valid values (right type, odd
// length, odd view, odd memory) find more bugs than pure garbage, so generators mix both.

/** Thrown by the fuzzer's own getters and traps: an Error, so passing it through is an acceptable outcome. */
export class FuzzTrap extends Error {
  constructor(what) {
    super(`fuzz trap: ${what}`);
    this.name = 'FuzzTrap';
  }
}

const NUMBERS = [
  0,
  -0,
  1,
  -1,
  2,
  3,
  0.5,
  -0.5,
  1.5,
  7,
  255,
  256,
  1024,
  4096,
  32768,
  65535,
  65536,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  2 ** 32 - 1,
  2 ** 32,
  2 ** 40,
  2 ** 52,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 63,
  2 ** 64,
  1e300,
  -1e300,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  Number.MIN_VALUE,
  2.2250738585072014e-308,
  NaN,
  Infinity,
  -Infinity,
];
const BIGINTS = [0n, 1n, -1n, 2n ** 32n, 2n ** 53n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 64n, -(2n ** 63n)];
const STRINGS = [
  '',
  'a',
  'b',
  'x',
  'abc',
  '0',
  '1',
  'NaN',
  'u32',
  'u64',
  'native',
  'js',
  'omit',
  'raise',
  'propagate',
  'read_only',
  'write_only',
  'float',
  'double',
  'int',
  'a + b',
  'sum(a)',
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  'é€😀',
  ' '.repeat(3),
  'constructor',
  '__proto__',
  'toString',
];
const FLOAT_SPECIALS = [NaN, Infinity, -Infinity, -0, 0, 5e-324, 1e308, -1e308, 2 ** 53, 1, -1];

export const TYPED_ARRAYS = [
  Float64Array,
  Float32Array,
  Int32Array,
  Uint32Array,
  Uint8Array,
  Int8Array,
  Int16Array,
  Uint16Array,
  Uint8ClampedArray,
  BigInt64Array,
  BigUint64Array,
];

/**
 * Fills a typed array with values drawn from a few distributions (random, specials, constant, NaN runs);
 * `integers`: small non-negative integers instead (opcodes, offsets, indices).
 */
export function fill(rng, array, { integers = false } = {}) {
  const bigint = array instanceof BigInt64Array || array instanceof BigUint64Array;
  if (integers) {
    for (let i = 0; i < array.length; i++) array[i] = rng.chance(0.9) ? rng.int(0, 40) : rng.uint32() | 0;
    return array;
  }
  const mode = rng.int(0, 4);
  for (let i = 0; i < array.length; i++) {
    let v;
    if (mode === 0) v = rng.float() * 200 - 100;
    else if (mode === 1) v = rng.pick(FLOAT_SPECIALS);
    else if (mode === 2) v = 42.5;
    else if (mode === 3) v = rng.chance(0.01) ? NaN : rng.float();
    else v = (rng.uint32() | 0) * 2 ** rng.int(-40, 40);
    array[i] = bigint ? BigInt.asIntN(64, BigInt(Math.trunc(Number.isFinite(v) ? v : 0))) : v;
  }
  return array;
}

/**
 * A typed array of `Type` and `length`, in one of several memories: a plain buffer, a view at an offset into a
 * larger buffer, a SharedArrayBuffer, a (fixed or length-tracking) view of a resizable ArrayBuffer, a Node Buffer's
 * pool, or already detached.
 */
export function typedArray(rng, Type = rng.pick(TYPED_ARRAYS), length = rng.length()) {
  const size = Type.BYTES_PER_ELEMENT;
  const memory = rng.int(0, 9);
  let array;
  if (memory === 1) {
    const offset = rng.int(1, 4);
    array = new Type(new ArrayBuffer((length + offset + rng.int(0, 3)) * size), offset * size, length);
  } else if (memory === 2) {
    array = new Type(new SharedArrayBuffer(length * size));
  } else if (memory === 3) {
    const buffer = new ArrayBuffer(length * size, { maxByteLength: (length + rng.int(0, 64)) * size });
    array = rng.chance(0.5) ? new Type(buffer) : new Type(buffer, 0, length);
  } else if (memory === 4 && size === 1) {
    const pooled = Buffer.allocUnsafe(length + 3); // small ones share Node's pool: other data sits next to it
    array = new Type(pooled.buffer, pooled.byteOffset + rng.int(0, 3), length);
  } else if (memory === 5) {
    array = new Type(length);
    structuredClone(array.buffer, { transfer: [array.buffer] });
    return array;
  } else {
    array = new Type(length);
  }
  return fill(rng, array);
}

/** An object whose every property read throws. */
function throwingObject(what) {
  return new Proxy(
    {},
    {
      get(_target, key) {
        if (key === Symbol.toPrimitive || key === 'then') return undefined;
        throw new FuzzTrap(`${what}.${String(key)}`);
      },
      has() {
        throw new FuzzTrap(`${what} has`);
      },
      ownKeys() {
        throw new FuzzTrap(`${what} ownKeys`);
      },
      getOwnPropertyDescriptor() {
        throw new FuzzTrap(`${what} descriptor`);
      },
    },
  );
}

/** A Float64Array subclass whose `length` lies (the pure-TS backend once trusted it: issue 15, defect 12). */
class LyingFloat64Array extends Float64Array {
  get length() {
    return super.length + 1024;
  }
}

/** Any value at all, weighted towards what reaches native code (numbers, typed arrays). */
export function anyValue(rng, depth = 0) {
  switch (rng.int(0, 15)) {
    case 0:
      return undefined;
    case 1:
      return null;
    case 2:
      return rng.chance(0.5);
    case 3:
    case 4:
      return rng.pick(NUMBERS);
    case 5:
      return rng.pick(BIGINTS);
    case 6:
      return rng.pick(STRINGS);
    case 7:
    case 8:
      return typedArray(rng);
    case 9:
      return new DataView(new ArrayBuffer(rng.int(0, 64)));
    case 10:
      return throwingObject('value');
    case 11:
      return new Proxy(typedArray(rng, Float64Array), {});
    case 12:
      return depth > 2 ? [] : Array.from({ length: rng.int(0, 5) }, () => anyValue(rng, depth + 1));
    case 13:
      return depth > 2 ? {} : options(rng, ['length', 'byteLength', 'buffer', 'valueOf'], depth + 1);
    case 14:
      return rng.pick([Symbol('fuzz'), () => 1, new Date(0), /x/, new Map(), Promise.resolve(1), new ArrayBuffer(8)]);
    default:
      return new LyingFloat64Array(rng.int(0, 8));
  }
}

/** A number argument: usually a hostile number, sometimes anything. */
export function numberish(rng) {
  return rng.chance(0.8) ? rng.pick(NUMBERS) : anyValue(rng);
}

/**
 * An options object over `names` (the options a function accepts): each known option appears with a hostile value
 * or a plausible one from `plausible`, sometimes an unknown key, a throwing getter, a null prototype or a Proxy.
 */
export function options(rng, names, depth = 0, plausible = {}) {
  if (rng.chance(0.05)) return rng.pick([undefined, null, 1, 'x', [], throwingObject('options')]);
  const result = rng.chance(0.1) ? Object.create(null) : {};
  for (const name of names) {
    if (!rng.chance(0.4)) continue;
    const roll = rng.float();
    if (roll < 0.05) {
      Object.defineProperty(result, name, {
        enumerable: true,
        get: () => {
          throw new FuzzTrap(`getter ${name}`);
        },
      });
    } else if (roll < 0.55 && plausible[name]) {
      result[name] = rng.pick(plausible[name]);
    } else {
      result[name] = depth > 2 ? rng.pick(NUMBERS) : anyValue(rng, depth + 1);
    }
  }
  if (rng.chance(0.05)) result[rng.pick(['bogus', 'Threads', 'thread', 'out_'])] = 1;
  return rng.chance(0.05) ? new Proxy(result, {}) : result;
}
