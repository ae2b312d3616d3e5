import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { describe as suite, expect, it } from 'vitest';
import { CountMinSketch, backend, nativePath, xxhash64, type Key } from 'hotpath';
import xxhashWasm from 'xxhash-wasm';
import { backends, rng } from './helpers.js';
import { exactCounts, zipfStream } from './zipf.js';

/** A mix of every key type, including multi-byte UTF-8, lone surrogates and subarray views. */
function mixedKeys(seed: number, n: number): Key[] {
  const r = rng(seed);
  const pool = new Uint8Array(64).map((_, i) => i * 7);
  return Array.from({ length: n }, (_, i): Key => {
    const v = Math.floor(r() * 300);
    switch (i % 5) {
      case 0:
        return `k${v}`;
      case 1:
        return ['é', '日本', '\u{1F600}', '\uD800', 'x'][v % 5] + v;
      case 2:
        return pool.subarray(v % 32, (v % 32) + (v % 9));
      case 3:
        return v - 150;
      default:
        return BigInt(v) * 1_000_000_007n - 10n ** 12n;
    }
  });
}

const published: [string, bigint][] = [
  ['', 0xef46db3751d8e999n],
  ['a', 0xd24ec4f1a98c6e5bn],
  ['abc', 0x44bc2cf5ad770999n],
];

suite('xxhash64', async () => {
  const reference = await xxhashWasm();
  for (const be of backends) {
    it(`[${be}] matches the published test vectors`, () => {
      for (const [text, want] of published) expect(xxhash64(text, { backend: be }), JSON.stringify(text)).toBe(want);
    });

    it(`[${be}] matches the reference implementation on every length 0..300 and 64-bit seeds`, () => {
      const r = rng(11);
      for (let n = 0; n <= 300; n++) {
        const bytes = new Uint8Array(n).map(() => Math.floor(r() * 256));
        for (const seed of [0n, 1n, 0xffffffffn, 0x9e3779b185ebca87n, (1n << 64n) - 1n]) {
          expect(xxhash64(bytes, { seed, backend: be }), `length ${n} seed ${seed}`).toBe(
            reference.h64Raw(bytes, seed),
          );
        }
      }
    });

    it(`[${be}] hashes strings as UTF-8 (unpaired surrogates as U+FFFD) and integers as int64 little-endian`, () => {
      const enc = new TextEncoder();
      for (const s of ['héllo', '日本語', '\u{1F600}!', 'a\uD800b', '\uDC00']) {
        expect(xxhash64(s, { backend: be })).toBe(reference.h64Raw(enc.encode(s), 0n));
      }
      const le = (v: bigint) => new Uint8Array(new BigInt64Array([v]).buffer);
      for (const v of [0, 5, -1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER]) {
        expect(xxhash64(v, { backend: be })).toBe(reference.h64Raw(le(BigInt(v)), 0n));
        expect(xxhash64(BigInt(v), { backend: be })).toBe(xxhash64(v, { backend: be }));
      }
      expect(xxhash64(-(1n << 63n), { backend: be })).toBe(reference.h64Raw(le(-(1n << 63n)), 0n));
    });

    it(`[${be}] rejects keys and seeds it cannot hash`, () => {
      expect(() => xxhash64({} as unknown as Key, { backend: be })).toThrow(TypeError);
      expect(() => xxhash64(1.5, { backend: be })).toThrow(/safe integer, got 1.5/);
      expect(() => xxhash64(1n << 63n, { backend: be })).toThrow(RangeError);
      expect(() => xxhash64('a', { backend: be, seed: -1 })).toThrow(RangeError);
      expect(() => xxhash64('a', { backend: be, seed: 1n << 64n })).toThrow(RangeError);
      expect(() => xxhash64('a', { backend: be, seed: '1' as unknown as number })).toThrow(TypeError);
    });
  }
});

for (const be of backends) {
  suite(`CountMinSketch [${be}]`, () => {
    it('derives width = ceil(e/epsilon), depth = ceil(ln(1/delta)) and reports the achieved bounds', () => {
      const s = CountMinSketch.withErrorRate(0.001, 0.01, { backend: be });
      expect([s.width, s.depth]).toEqual([2719, 5]);
      expect(s.epsilon).toBeLessThanOrEqual(0.001);
      expect(s.delta).toBeLessThanOrEqual(0.01);
      expect(s.byteLength).toBe(2719 * 5 * 4);
      expect(CountMinSketch.withDimensions(10, 3, { counter: 'u64', backend: be }).byteLength).toBe(240);
      expect(s.totalCount).toBe(0);
      expect(s.estimate('nothing')).toBe(0);
    });

    it('counts exactly when nothing collides, for every key type', () => {
      const s = CountMinSketch.withDimensions(1 << 16, 4, { backend: be, seed: 3 });
      const keys = mixedKeys(5, 3000);
      s.updateMany(keys);
      s.update('extra', 41).update('extra');
      expect(s.estimate('extra')).toBe(42);
      s.updateMany(['typed', 'typed', 'extra'], Uint32Array.of(2, 3, 0));
      expect([s.estimate('typed'), s.estimate('extra')]).toEqual([5, 42]);
      // Keys are identified by their bytes: equal encodings are one key.
      const expected = new Map<string, number>();
      const id = (k: Key) => xxhash64(k, { backend: be }).toString();
      for (const k of keys) expected.set(id(k), (expected.get(id(k)) ?? 0) + 1);
      const estimates = s.estimateMany(keys);
      keys.forEach((k, i) => {
        expect(estimates[i]).toBe(expected.get(id(k)));
        expect(s.estimate(k)).toBe(estimates[i]);
      });
      expect(s.estimate(5)).toBe(s.estimate(5n));
      expect(s.estimate('\uD800x')).toBe(s.estimate('\uFFFDx'));
      expect(s.totalCount).toBe(3047);
    });

    it('meets the epsilon/delta guarantee on a Zipf(1.1) stream and never under-counts', () => {
      const stream = zipfStream(21, 200_000, 20_000, 1.1);
      const truth = exactCounts(stream);
      for (const conservative of [false, true]) {
        const s = CountMinSketch.withErrorRate(0.002, 0.05, { backend: be, conservative, seed: 99 });
        s.updateMany(stream);
        const keys = [...truth.keys()];
        const est = s.estimateMany(keys);
        let over = 0;
        keys.forEach((k, i) => {
          const t = truth.get(k)!;
          expect(est[i]).toBeGreaterThanOrEqual(t);
          // lowerBound fails exactly when the estimate is off by more than errorBound (probability < delta).
          expect(s.lowerBound(k) <= t).toBe(est[i] - t <= s.errorBound);
          expect(s.upperBound(k)).toBe(est[i]);
          if (est[i] - t > s.errorBound) over++;
        });
        expect(over / keys.length).toBeLessThan(s.delta);
      }
    });

    it('conservative update never over-counts more than plain update, key by key', () => {
      const stream = zipfStream(4, 50_000, 5000, 1.1);
      const plain = CountMinSketch.withDimensions(300, 3, { backend: be }).updateMany(stream);
      const cons = CountMinSketch.withDimensions(300, 3, { backend: be, conservative: true }).updateMany(stream);
      const truth = exactCounts(stream);
      let strictlyBetter = 0;
      for (const [k, t] of truth) {
        const c = cons.estimate(k);
        expect(c).toBeGreaterThanOrEqual(t);
        expect(c).toBeLessThanOrEqual(plain.estimate(k));
        if (c < plain.estimate(k)) strictlyBetter++;
      }
      expect(strictlyBetter).toBeGreaterThan(0);
    });

    it('saturates u32 and u64 counters instead of wrapping', () => {
      const u32 = CountMinSketch.withDimensions(8, 2, { backend: be });
      u32
        .update('a', 2 ** 32 - 3)
        .update('a', 2)
        .update('a', 5);
      expect(u32.estimate('a')).toBe(2 ** 32 - 1);
      u32.updateMany(['a', 'a'], [1, 2 ** 40]);
      expect(u32.estimate('a')).toBe(2 ** 32 - 1);
      const u64 = CountMinSketch.withDimensions(8, 2, { backend: be, counter: 'u64', conservative: true });
      u64.update('b', 2 ** 32 + 5).update('b', 2 ** 32 - 1);
      expect(u64.estimate('b')).toBe(2 ** 33 + 4);
      u64.updateMany(new Array(2050).fill('b'), new Array(2050).fill(Number.MAX_SAFE_INTEGER));
      expect(u64.estimate('b')).toBe(2 ** 64);
      const merged = CountMinSketch.withDimensions(8, 2, { backend: be }).update('c', 3e9);
      merged.merge({ sketch: merged, weight: 1 });
      expect(merged.estimate('c')).toBe(2 ** 32 - 1);
    });

    it('plain update takes negative counts (clamping counters at 0); conservative refuses them', () => {
      for (const counter of ['u32', 'u64'] as const) {
        const s = CountMinSketch.withDimensions(64, 3, { backend: be, counter });
        s.update('a', 2 ** 33 + 10)
          .update('a', -(2 ** 32))
          .update('a', -3);
        // u32: 2^33 + 10 saturated at 2^32 - 1, so subtracting 2^32 clamps at 0.
        expect(s.estimate('a')).toBe(counter === 'u64' ? 2 ** 33 + 10 - 2 ** 32 - 3 : 0);
        s.update('a', -(2 ** 40));
        expect(s.estimate('a')).toBe(0);
      }
      const c = CountMinSketch.withDimensions(64, 3, { backend: be, conservative: true });
      expect(() => c.update('a', -1)).toThrow(/count must be >= 0 with conservative update, got -1/);
      expect(() => c.updateMany(['a', 'b'], [1, -1])).toThrow(/counts\[1\] must be >= 0/);
      expect(c.totalCount).toBe(0);
    });

    it('merges with weights into exactly the counters of one sketch over both streams', () => {
      const a = zipfStream(1, 20_000, 3000, 1.1);
      const b = zipfStream(2, 10_000, 3000, 1.1);
      const opts = { backend: be, seed: 77n, counter: 'u64' } as const;
      const left = CountMinSketch.withDimensions(500, 4, opts).updateMany(a);
      const right = CountMinSketch.withDimensions(500, 4, opts).updateMany(b);
      const whole = CountMinSketch.withDimensions(500, 4, opts).updateMany(a).updateMany(b).updateMany(b).updateMany(b);
      left.merge(right, { sketch: right, weight: 2 });
      expect(left.toBuffer().equals(whole.toBuffer())).toBe(true);
      expect(left.totalCount).toBe(50_000);
      left.merge({ sketch: right, weight: 0 });
      expect(left.totalCount).toBe(50_000);
    });

    it('refuses to merge sketches of other dimensions, seeds or counter types', () => {
      const s = CountMinSketch.withDimensions(100, 3, { backend: be });
      expect(() => s.merge(CountMinSketch.withDimensions(101, 3, { backend: be }))).toThrow(
        /width, depth, seed and counter type must match/,
      );
      expect(() => s.merge(CountMinSketch.withDimensions(100, 3, { backend: be, seed: 1 }))).toThrow(RangeError);
      expect(() => s.merge(CountMinSketch.withDimensions(100, 3, { backend: be, counter: 'u64' }))).toThrow(RangeError);
      expect(() => s.merge({} as CountMinSketch)).toThrow(TypeError);
      expect(() => s.merge({ sketch: s, weight: -1 })).toThrow(RangeError);
      expect(() => s.merge({ sketch: s, weight: 1.5 })).toThrow(RangeError);
    });

    it('round-trips through toBuffer/fromBuffer on both backends with identical estimates', () => {
      const keys = mixedKeys(8, 5000);
      for (const counter of ['u32', 'u64'] as const) {
        for (const conservative of [false, true]) {
          const s = CountMinSketch.withDimensions(97, 5, { backend: be, counter, conservative, seed: 2n ** 63n + 5n });
          s.updateMany(
            keys,
            keys.map((_, i) => i % 7),
          );
          const buf = s.toBuffer();
          for (const other of backends) {
            const t = CountMinSketch.fromBuffer(buf, { backend: other });
            expect([t.width, t.depth, t.seed, t.counter, t.conservative, t.totalCount]).toEqual([
              97,
              5,
              s.seed,
              counter,
              conservative,
              s.totalCount,
            ]);
            expect(t.estimateMany(keys)).toEqual(s.estimateMany(keys));
            expect(t.toBuffer().equals(buf)).toBe(true);
          }
        }
      }
    });

    it('rejects a truncated, mutated or foreign buffer with the reason, never a crash', () => {
      const buf = CountMinSketch.withDimensions(13, 3, { backend: be }).updateMany(mixedKeys(3, 200)).toBuffer();
      for (let n = 0; n < buf.length; n++) {
        expect(() => CountMinSketch.fromBuffer(buf.subarray(0, n), { backend: be })).toThrow(/truncated/);
      }
      expect(() => CountMinSketch.fromBuffer(Buffer.concat([buf, Buffer.from([0])]), { backend: be })).toThrow(
        /trailing bytes/,
      );
      const r = rng(17);
      for (let trial = 0; trial < 500; trial++) {
        const bad = Buffer.from(buf);
        const flips = 1 + Math.floor(r() * 3);
        for (let f = 0; f < flips; f++) bad[Math.floor(r() * bad.length)] ^= 1 + Math.floor(r() * 255);
        expect(() => CountMinSketch.fromBuffer(bad, { backend: be })).toThrow(
          /bad magic|version|counter type|flags|dimensions|truncated|trailing|checksum/,
        );
        const random = new Uint8Array(Math.floor(r() * 300)).map(() => Math.floor(r() * 256));
        expect(() => CountMinSketch.fromBuffer(random, { backend: be })).toThrow(Error);
      }
      expect(() => CountMinSketch.fromBuffer('x' as unknown as Uint8Array, { backend: be })).toThrow(TypeError);
    });

    it('rejects bad dimensions, options, keys and counts with precise errors', () => {
      for (const [e, d] of [
        [0, 0.1],
        [1, 0.1],
        [0.1, 0],
        [0.1, 1],
        [NaN, 0.1],
        [-0.5, 0.1],
      ]) {
        expect(() => CountMinSketch.withErrorRate(e, d, { backend: be })).toThrow(RangeError);
      }
      expect(() => CountMinSketch.withErrorRate(1e-12, 0.1, { backend: be })).toThrow(/too large/);
      expect(() => CountMinSketch.withErrorRate('0.1' as unknown as number, 0.1)).toThrow(TypeError);
      expect(() => CountMinSketch.withDimensions(0, 3, { backend: be })).toThrow(
        /width must be an integer in \[1, 4294967295\], got 0/,
      );
      expect(() => CountMinSketch.withDimensions(10, 65, { backend: be })).toThrow(
        /depth must be an integer in \[1, 64\]/,
      );
      expect(() => CountMinSketch.withDimensions(2 ** 30, 8, { backend: be })).toThrow(
        /over the 2147483648-byte limit/,
      );
      expect(() => CountMinSketch.withDimensions(10, 2, { backend: be, counter: 'u16' as 'u32' })).toThrow(RangeError);
      expect(() =>
        CountMinSketch.withDimensions(10, 2, { backend: be, conservative: 1 as unknown as boolean }),
      ).toThrow(TypeError);
      const s = CountMinSketch.withDimensions(50, 2, { backend: be });
      expect(() => s.update(null as unknown as Key)).toThrow(
        /a key must be a string, Uint8Array, number or bigint, got null/,
      );
      expect(() => s.update('a', 0.5)).toThrow(/count must be a safe integer, got 0.5/);
      expect(() => s.updateMany('abc' as unknown as Key[])).toThrow(TypeError);
      expect(() => s.updateMany(['a', 'b'], [1])).toThrow(/counts has 1 elements for 2 keys/);
      // A bad key anywhere in a batch leaves the sketch untouched.
      expect(() => s.updateMany([...new Array(10_000).fill('a'), 2.5])).toThrow(/keys\[10000\] must be a safe integer/);
      expect(() => s.updateMany(['a', {} as Key])).toThrow(/keys\[1\] must be a string/);
      expect(s.estimate('a')).toBe(0);
      expect(s.totalCount).toBe(0);
      // Also for a sketch large next to the batch (checked up front instead of snapshotted).
      const large = CountMinSketch.withDimensions(1 << 16, 4, { backend: be });
      expect(() => large.updateMany([...new Array(10_000).fill('a'), 'b', 1n << 64n])).toThrow(
        /keys\[10001\] must be a safe integer/,
      );
      expect([large.estimate('a'), large.estimate('b'), large.totalCount]).toEqual([0, 0, 0]);
    });
  });
}

suite.runIf(backend === 'native')('CountMinSketch: native and pure-TS counters are byte-identical', () => {
  it('for every counter type and update rule, on mixed keys, counts and long batches', () => {
    // Long one- and two-byte keys among short ones.
    const keys = [
      ...mixedKeys(31, 20_000),
      'x'.repeat(100_000),
      'я'.repeat(70_000),
      ...zipfStream(5, 20_000, 1000, 1.1),
    ];
    const r = rng(12);
    for (const counter of ['u32', 'u64'] as const) {
      for (const conservative of [false, true]) {
        const counts = keys.map(() => Math.floor(r() * (conservative ? 100 : 200)) - (conservative ? 0 : 50));
        const make = (be: 'native' | 'js') =>
          CountMinSketch.withDimensions(1013, 4, { backend: be, counter, conservative, seed: 123456789 });
        const native = make('native').updateMany(keys, counts);
        const js = make('js').updateMany(keys, counts);
        // One key per call too, including the long keys (the addon's long-string path).
        for (const i of [...Array(3000).keys(), 20_000, 20_001]) {
          expect(native.update(keys[i], counts[i]).estimate(keys[i])).toBe(
            js.update(keys[i], counts[i]).estimate(keys[i]),
          );
        }
        expect(native.toBuffer().equals(js.toBuffer()), `${counter} conservative=${conservative}`).toBe(true);
        native.merge({ sketch: js, weight: 3 });
        js.merge({ sketch: CountMinSketch.fromBuffer(js.toBuffer(), { backend: 'js' }), weight: 3 });
        expect(native.toBuffer().equals(js.toBuffer())).toBe(true);
      }
    }
  });
});

suite.runIf(backend === 'native')('CountMinSketch: string batches hash each key alone', () => {
  it('a surrogate pair split across two keys is two unpaired halves (U+FFFD each), not one character', () => {
    const r = rng(41);
    const halves = ['\uD83D', '\uDE00', '😀', 'x', 'é', ''];
    // Keys ending in a high surrogate next to keys starting with a low one: joined, they would form pairs.
    const keys = Array.from({ length: 5000 }, () => {
      let k = '';
      for (let n = Math.floor(r() * 4); n > 0; n--) k += halves[Math.floor(r() * halves.length)];
      return k;
    });
    keys.push('a\uD83D', '\uDE00b', 'pair\uD83D', '\uDE00');
    const make = (be: 'native' | 'js') => CountMinSketch.withDimensions(307, 4, { backend: be, seed: 5 });
    const native = make('native').updateMany(keys);
    const js = make('js').updateMany(keys);
    expect(native.toBuffer().equals(js.toBuffer())).toBe(true);
    const oneByOne = make('native');
    for (const k of keys) oneByOne.update(k);
    expect(native.toBuffer().equals(oneByOne.toBuffer())).toBe(true);
    expect(native.estimateMany(['a\uFFFD', '\uFFFDb'])).toEqual(Float64Array.of(1, 1));
  });

  // Each batch of strings is read one of two ways (V8's UTF-8 of the joined batch, or its UTF-16 units encoded key
  // by key), chosen by what the thread's previous batch needed: batches of every shape in every order, each once
  // after an ASCII batch and once after a non-ASCII one, must hash as the pure-TS twin does.
  it('batches of ASCII, non-ASCII, 4-byte and split-pair keys in any order hash the same on both read paths', () => {
    const r = rng(43);
    const batch = 8192; // keys per native call (src/countmin/native.ts BATCH_KEYS)
    const shapes: (() => string)[] = [
      () => `key-${Math.floor(r() * 5000)}`,
      () => `ключ-${Math.floor(r() * 5000)}`,
      () => `${Math.floor(r() * 99)}\u{1F600}é`,
      () => ['\uD83D', '\uDE00', 'x', ''][Math.floor(r() * 4)] + ['\uD83D', '\uDE00', 'y'][Math.floor(r() * 3)],
      // Every unit below U+0800 (encoded 8 units at a time on x86): ASCII, 2-byte letters and U+07FF, any length.
      () => Array.from({ length: Math.floor(r() * 21) }, () => 'aZ9-éßжЯΩ\u0080\u07FF'[Math.floor(r() * 11)]).join(''),
    ];
    const order = [0, 1, 0, 2, 1, 3, 0, 3, 1, 2, 2, 0, 1, 1, 3, 3, 2, 4, 0, 4, 1, 4, 4, 2, 4, 3, 4];
    const keys = order.flatMap((shape) => Array.from({ length: batch }, shapes[shape]));
    const make = (be: 'native' | 'js') => CountMinSketch.withDimensions(1009, 4, { backend: be, seed: 9 });
    const native = make('native').updateMany(keys);
    const js = make('js').updateMany(keys);
    expect(native.toBuffer().equals(js.toBuffer())).toBe(true);
    expect(native.estimateMany(keys.slice(0, 3 * batch))).toEqual(js.estimateMany(keys.slice(0, 3 * batch)));
  });
});

// An updateMany of more than one batch (8192 keys) is pipelined: a pool thread encodes and hashes batch i while
// JavaScript packs batch i + 1, and batch i is added on the calling thread (a plain one without counts or estimates
// hashed grouped by length, any other in key order). Calls of one batch each (no pipeline) and the pure-TS twin
// give the reference counters; TopK's tests cover the pipeline with estimates, and the byte-identity test above the
// one with counts.
suite.runIf(backend === 'native')('CountMinSketch: the pipelined updateMany', () => {
  const batch = 8192; // keys per native call (src/countmin/native.ts BATCH_KEYS)
  const inCalls = (sketch: CountMinSketch, keys: Key[]) => {
    for (let i = 0; i < keys.length; i += batch) sketch.updateMany(keys.slice(i, i + batch));
    return sketch;
  };

  it('counts as the unpipelined path and the pure-TS twin: u32/u64, plain/conservative, every key type', () => {
    const r = rng(71);
    const streams: Key[][] = [
      mixedKeys(72, 5 * batch + 17),
      Array.from({ length: 4 * batch + 1 }, (_, i) =>
        i % 3 === 0 ? `ключ-${i % 977}` : `key-${Math.floor(r() * 3000)}`,
      ),
      Array.from({ length: 3 * batch }, (_, i) => (i < batch ? `a${i % 50}` : `${i % 99}\u{1F600}é`)),
      Array.from({ length: batch + 1 }, (_, i) => `k${i % 7}`),
    ];
    for (const keys of streams) {
      for (const counter of ['u32', 'u64'] as const) {
        for (const conservative of [false, true]) {
          const make = (be: 'native' | 'js') =>
            CountMinSketch.withDimensions(1013, 5, { backend: be, counter, conservative, seed: 77 });
          const pipelined = make('native').updateMany(keys);
          const unpipelined = inCalls(make('native'), keys);
          const js = make('js').updateMany(keys);
          const what = `${counter} conservative=${conservative}`;
          expect(pipelined.toBuffer().equals(unpipelined.toBuffer()), what).toBe(true);
          expect(pipelined.toBuffer().equals(js.toBuffer()), what).toBe(true);
          expect(pipelined.totalCount).toBe(keys.length);
        }
      }
    }
  });

  it('saturates counters at their maximum as the twin does', () => {
    for (const counter of ['u32', 'u64'] as const) {
      const make = (be: 'native' | 'js') => {
        const s = CountMinSketch.withDimensions(64, 3, { backend: be, counter, seed: 3 });
        const max = counter === 'u32' ? 2 ** 32 - 1 : Number.MAX_SAFE_INTEGER;
        s.update('a', counter === 'u32' ? max - 5000 : max);
        return counter === 'u32' ? s : s.merge({ sketch: s, weight: 4096 });
      };
      const keys = Array.from({ length: 3 * batch }, (_, i) => (i % 2 ? 'a' : `b${i % 100}`));
      const native = make('native').updateMany(keys);
      const js = make('js').updateMany(keys);
      expect(native.toBuffer().equals(js.toBuffer()), counter).toBe(true);
    }
  });

  it('refuses what is not an open pipeline, and batches in flight that do not fit the call', () => {
    const addon = createRequire(__filename)(nativePath!) as Record<string, (...args: unknown[]) => unknown>;
    const counters = new Uint32Array(16);
    const plain = Uint32Array.of(8, 2, 0, 0, 0, 0);
    const conservative = Uint32Array.of(8, 2, 0, 0, 0, 1);
    const keyArgs = ['a', Uint32Array.of(0, 1)];
    expect(() => addon.countminPipelineOpen(1)).toThrow(/estimates must be a boolean/);
    // A pipeline is a handle the addon made (an External it type-tags), nothing else: not a number, not an object.
    for (const notAPipeline of [1, 12345, '1', 0.5, {}, null]) {
      expect(() => addon.countminPipelinePush(notAPipeline, counters, plain, ...keyArgs, null, null)).toThrow(
        /pipeline must be a pipeline handle/,
      );
      expect(() => addon.countminPipelineClose(notAPipeline, null, null, null)).toThrow(TypeError);
    }
    const pipeline = addon.countminPipelineOpen(false);
    expect(() => addon.countminPipelinePush(pipeline, counters, plain, 'a', Uint32Array.of(0, 2), null, null)).toThrow(
      /run past/,
    );
    expect(() => addon.countminPipelinePush(pipeline, counters, plain, ...keyArgs, Float64Array.of(0.5), null)).toThrow(
      /counts\[0\] must be a safe integer/,
    );
    addon.countminPipelinePush(pipeline, counters, plain, ...keyArgs, null, null);
    expect(counters.every((c) => c === 0)).toBe(true); // hashed, not yet added
    // Hashed with seed 0: it cannot go into a sketch of another seed.
    expect(() =>
      addon.countminPipelinePush(pipeline, counters, Uint32Array.of(8, 2, 1, 0, 0, 0), ...keyArgs, null, null),
    ).toThrow(/hashed for another sketch/);
    addon.countminPipelineClose(pipeline, counters, plain, null);
    expect(counters.reduce((a, b) => a + b, 0)).toBe(2); // one per row
    expect(() => addon.countminPipelineClose(pipeline, null, null, null)).toThrow(/not an open pipeline/);
    // A close that throws still closes, dropping the batch in flight. A batch hashed for a plain sketch cannot go
    // into a conservative one; with estimates, the close takes the batch's estimates array.
    const bad: [boolean, Uint32Array, unknown, RegExp | ErrorConstructor][] = [
      [false, conservative, null, /hashed for another sketch/],
      [true, conservative, new Float64Array(1), /estimates must have one element per key/],
      [true, conservative, null, TypeError],
    ];
    for (const [estimates, shape, out, error] of bad) {
      const open = addon.countminPipelineOpen(estimates);
      addon.countminPipelinePush(open, counters, plain, 'ab', Uint32Array.of(0, 1, 2), null, null);
      expect(() => addon.countminPipelineClose(open, counters, shape, out)).toThrow(error);
      expect(() => addon.countminPipelineClose(open, null, null, null)).toThrow(/not an open pipeline/);
    }
    expect(counters.reduce((a, b) => a + b, 0)).toBe(2);
    // An empty byte batch copies nothing (the copy once passed null pointers to memcpy: undefined behaviour).
    const empty = addon.countminPipelineOpen(false);
    addon.countminPipelinePush(empty, counters, plain, new Uint8Array(0), Uint32Array.of(0), null, null);
    addon.countminPipelineClose(empty, counters, plain, null);
    expect(counters.reduce((a, b) => a + b, 0)).toBe(2);
  });

  // A script cut off mid-updateMany without running its catch (a vm timeout) leaves its pipeline unclosed. The
  // pipelines were once kept by id until their thread exited, so each such call held its batch copies for good; now
  // the handle's collection frees them.
  it('frees a pipeline that was never closed once its handle is collected', () => {
    const grownMiB = childRssGrowthMiB(
      `const addon = require(${JSON.stringify(nativePath)});
      const keys = 'k'.repeat(1 << 20), offsets = Uint32Array.of(0, 1 << 20);
      const counters = new Uint32Array(16), shape = Uint32Array.of(8, 2, 0, 0, 0, 0);
      const leak = () => {
        const pipeline = addon.countminPipelineOpen(false);
        addon.countminPipelinePush(pipeline, counters, shape, keys, offsets, null, null);
        addon.countminPipelinePush(pipeline, counters, shape, keys, offsets, null, null);
      };`,
      400,
      20,
    );
    // 400 leaked pipelines of 2 MB each were 800 MB before; now ~0 (64 MB under ASan, its quarantine).
    expect(grownMiB).toBeLessThan(300);
  });

  it('frees the pipeline of an updateMany that a vm timeout cut off', () => {
    // A getter on the third batch spins until the timeout: two batches of 8 MB are in the pipeline by then.
    const grownMiB = childRssGrowthMiB(
      `const vm = require('node:vm');
      const hotpath = require(${JSON.stringify(createRequire(__filename).resolve('hotpath'))});
      const keys = Array.from({ length: 3 * 8192 }, (_, i) => 'x'.repeat(1000) + i);
      Object.defineProperty(keys, 2 * 8192 + 5, { get() { for (;;); } });
      const sketch = hotpath.CountMinSketch.withDimensions(64, 2);
      const leak = () => {
        try {
          vm.runInNewContext('sketch.updateMany(keys)', { sketch, keys }, { timeout: 50 });
        } catch (error) {
          if (/timed out/.test(error.message)) return;
          throw error;
        }
        throw new Error('not cut off');
      };`,
      40,
      5,
    );
    // 275 MiB before (the pipelines stayed open until the thread exited); now about 0.
    expect(grownMiB).toBeLessThan(100);
  }, 120_000);
});

/**
 * The RSS growth (MiB) of a child that runs `setup` (which defines leak()), calls leak() `gcEvery` times to warm up,
 * then `rounds` times, collecting garbage every `gcEvery` calls and before each reading.
 */
function childRssGrowthMiB(setup: string, rounds: number, gcEvery: number): number {
  const script = `${setup}
    const settle = async () => { global.gc(); await new Promise(setImmediate); };
    (async () => {
      for (let i = 0; i < ${gcEvery}; i++) leak();
      await settle();
      const before = process.memoryUsage().rss;
      for (let i = 1; i <= ${rounds}; i++) {
        leak();
        if (i % ${gcEvery} === 0) await settle();
      }
      await settle();
      console.log(JSON.stringify({ grownMiB: (process.memoryUsage().rss - before) / 2 ** 20 }));
    })();`;
  const child = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  expect(child.stderr).toBe('');
  return (JSON.parse(child.stdout) as { grownMiB: number }).grownMiB;
}

// Found with the pipeline's tests: the native glue packed the batches of every call in one set of module buffers,
// so an updateMany run by a getter on the keys array (while the outer call packed its second batch) overwrote the
// outer call's offsets, and the outer call silently counted the wrong keys (a whole batch lost here).
suite.each(backends)('CountMinSketch: updateMany and estimateMany called from a getter on the keys (%s)', (be) => {
  it('keeps the nested call apart from the outer one', () => {
    const batch = 8192;
    const inner = CountMinSketch.withDimensions(509, 4, { seed: 1, backend: be });
    const innerKeys = Array.from({ length: 2 * batch + 3 }, (_, i) => `inner-${i % 300}`);
    const keys: string[] = Array.from({ length: 3 * batch }, (_, i) => `outer-${i % 400}`);
    let reads = 0;
    Object.defineProperty(keys, batch + 5, {
      get() {
        // Read more than once (checked, then joined): the nested calls run on the first read only.
        if (reads++ === 0) inner.updateMany(innerKeys).estimateMany(innerKeys);
        return 'outer-getter';
      },
    });
    const outer = CountMinSketch.withDimensions(509, 4, { seed: 2, backend: be }).updateMany(keys);
    expect(reads).toBeGreaterThan(0);
    const reference = (seed: number, list: string[]) =>
      CountMinSketch.withDimensions(509, 4, { seed, backend: 'js' }).updateMany(list).toBuffer();
    expect(outer.toBuffer().equals(reference(2, [...keys]))).toBe(true);
    expect(inner.toBuffer().equals(reference(1, innerKeys))).toBe(true);
  });
});

suite.runIf(backend === 'native')('count-min addon functions validate before touching memory', () => {
  const shape = Uint32Array.of(8, 2, 0, 0, 0, 0);
  const counters = new Uint32Array(16);
  const bytes = new TextEncoder().encode('abcdef');

  it('rejects malformed shapes, counters, keys, offsets and counts with TypeError/RangeError', () => {
    const addon = createRequire(__filename)(nativePath!) as Record<string, (...args: unknown[]) => unknown>;
    const cases: [unknown[], RegExp][] = [
      [[counters, new Uint32Array(5), bytes, Uint32Array.of(0, 3), null, null], /shape must have 6 elements/],
      [
        [counters, Uint32Array.of(0, 2, 0, 0, 0, 0), bytes, Uint32Array.of(0, 3), null, null],
        /width and depth must be >= 1/,
      ],
      [[counters, Uint32Array.of(8, 2, 0, 0, 2, 0), bytes, Uint32Array.of(0, 3), null, null], /flags must be 0 or 1/],
      [[new Uint32Array(15), shape, bytes, Uint32Array.of(0, 3), null, null], /counters length does not match/],
      [[new Float64Array(16), shape, bytes, Uint32Array.of(0, 3), null, null], /counters must be a Uint32Array/],
      [[counters, shape, [1, 2], Uint32Array.of(0, 1), null, null], /keys must be a Uint8Array or string/],
      [[counters, shape, bytes, new Uint32Array(0), null, null], /offsets must have at least one element/],
      [[counters, shape, bytes, Uint32Array.of(0, 4, 2), null, null], /offsets must be non-decreasing/],
      [[counters, shape, bytes, Uint32Array.of(0, 7), null, null], /offsets run past the end of keys/],
      [[counters, shape, 'abc', Uint32Array.of(0, 4), null, null], /offsets run past the end of keys/],
      [
        [counters, shape, bytes, Uint32Array.of(0, 3), new Float64Array(2), null],
        /counts must have one element per key/,
      ],
      [
        [counters, shape, bytes, Uint32Array.of(0, 3), Float64Array.of(NaN), null],
        /counts\[0\] must be a safe integer/,
      ],
      [
        [counters, shape, bytes, Uint32Array.of(0, 3), Float64Array.of(2 ** 53), null],
        /counts\[0\] must be a safe integer/,
      ],
      [
        [counters, Uint32Array.of(8, 2, 0, 0, 0, 1), bytes, Uint32Array.of(0, 3), Float64Array.of(-1), null],
        /must be >= 0 with conservative/,
      ],
      [
        [counters, shape, bytes, Uint32Array.of(0, 3), null, new Float64Array(3)],
        /estimates must have one element per key/,
      ],
    ];
    for (const [args, message] of cases) expect(() => addon.countminUpdate(...args), String(message)).toThrow(message);
    const misaligned = new Uint32Array(33).subarray(1);
    expect(() =>
      addon.countminUpdate(misaligned, Uint32Array.of(8, 2, 0, 0, 1, 0), bytes, Uint32Array.of(0, 3), null, null),
    ).toThrow(/8-byte aligned/);
    expect(() => addon.countminUpdateOne(counters, shape, 'a', 0.5)).toThrow(/count must be a safe integer/);
    expect(() => addon.countminUpdateOne(counters, shape, 5, 1)).toThrow(TypeError);
    expect(() => addon.countminEstimate(counters, shape, bytes, Uint32Array.of(0, 3), null)).toThrow(
      /estimates must be a Float64Array/,
    );
    expect(() => addon.countminMerge(counters, new Uint32Array(15), false, 1)).toThrow(/same length/);
    expect(() => addon.countminMerge(counters, counters, false, -1)).toThrow(/weight must be an integer/);
    expect(() => addon.countminMerge(misaligned, misaligned, true, 1)).toThrow(/8-byte aligned/);
    expect(() => addon.countminHash(bytes, 2 ** 32, 0)).toThrow(/seed halves must be uint32/);
    const detached = new Uint32Array(16);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(() => addon.countminUpdate(detached, shape, bytes, Uint32Array.of(0, 3), null, null)).toThrow(
      /counters length does not match/,
    );
    expect(counters.every((c) => c === 0)).toBe(true);
  });
});

// Issue 15 item 11: totalCount at the top of its range. toBuffer() threw once weighted merges
// reached 2^64 - 1 (Math.min(total, 2**64 - 1) rounds to 2^64), and totals above 2^53 lost precision.
suite.each(backends)('count-min totalCount beyond 2^53 (%s backend)', (b) => {
  const big = Number.MAX_SAFE_INTEGER; // 2^53 - 1, the largest count update() accepts

  it('stays exact above 2^53 through updates, updateMany and a save/load round trip', () => {
    const s = CountMinSketch.withDimensions(64, 3, { backend: b, counter: 'u64' });
    s.update('a', big).update('b', big).updateMany(['c', 'd'], [big, 3]);
    const exact = 3n * BigInt(big) + 3n;
    expect(s.totalCountBigInt).toBe(exact);
    expect(s.totalCount).toBe(Number(exact));
    const loaded = CountMinSketch.fromBuffer(s.toBuffer(), { backend: b });
    expect(loaded.totalCountBigInt).toBe(exact);
  });

  it('saturates at 2^64 - 1 under weighted merges, and such a sketch saves and loads', () => {
    const s = CountMinSketch.withDimensions(64, 3, { backend: b, counter: 'u64' });
    const other = CountMinSketch.withDimensions(64, 3, { backend: b, counter: 'u64' }).update('x', big);
    for (let i = 0; i < 4; i++) s.merge({ sketch: other, weight: 0xffffffff });
    expect(s.totalCountBigInt).toBe(2n ** 64n - 1n);
    const loaded = CountMinSketch.fromBuffer(s.toBuffer(), { backend: b });
    expect(loaded.totalCountBigInt).toBe(2n ** 64n - 1n);
    expect(loaded.totalCount).toBe(2 ** 64);
    expect(loaded.toBuffer()).toEqual(s.toBuffer());
  });

  it('never goes below zero with negative updates', () => {
    const s = CountMinSketch.withDimensions(16, 2, { backend: b }).update('a', 5).update('a', -9);
    expect(s.totalCountBigInt).toBe(0n);
  });
});
