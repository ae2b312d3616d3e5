import { describe as suite, expect, it } from 'vitest';
import { TopK, backend, type Key } from 'hotpath';
import { backends, rng } from './helpers.js';
import { exactCounts, zipfStream } from './zipf.js';

function exactTop(truth: Map<string, number>, n: number): string[] {
  return [...truth.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k]) => k);
}

for (const be of backends) {
  suite(`TopK [${be}]`, () => {
    it('finds the heavy hitters of a Zipf(1.1) stream with estimates bracketing the true counts', () => {
      const stream = zipfStream(7, 100_000, 10_000, 1.1);
      const truth = exactCounts(stream);
      const top = new TopK(10, { epsilon: 0.001, delta: 0.01, backend: be });
      for (let i = 0; i < stream.length; i += 7000) top.updateMany(stream.slice(i, i + 7000));
      const list = top.list();
      expect(list).toHaveLength(10);
      expect(list.map((e) => e.key)).toEqual(expect.arrayContaining(exactTop(truth, 5)));
      for (let i = 0; i < list.length; i++) {
        const { key, estimate, lowerBound, upperBound } = list[i];
        if (i > 0) expect(estimate).toBeLessThanOrEqual(list[i - 1].estimate);
        const t = truth.get(key as string)!;
        expect(upperBound).toBe(estimate);
        expect(estimate).toBeGreaterThanOrEqual(t);
        expect(lowerBound).toBeLessThanOrEqual(t);
        expect(estimate).toBe(top.estimate(key));
      }
      expect(top.sketch.totalCount).toBe(100_000);
    });

    it('update() one key at a time keeps the same candidates as updateMany()', () => {
      const stream = zipfStream(3, 20_000, 2000, 1.1);
      const one = new TopK(8, { width: 400, depth: 4, backend: be });
      for (const key of stream) one.update(key);
      const many = new TopK(8, { width: 400, depth: 4, backend: be }).updateMany(stream);
      expect(one.list()).toEqual(many.list());
    });

    it('treats keys with equal bytes as one candidate and keeps byte keys safe from later mutation', () => {
      const top = new TopK(4, { width: 1000, depth: 3, backend: be });
      const bytes = new Uint8Array([0x61]);
      top.updateMany(['a', bytes, 'b', 7, 7n, new Uint8Array([0xff, 0x00])], [1, 2, 1, 1, 1, 5]);
      bytes[0] = 0x7a;
      const list = top.list();
      expect(list).toHaveLength(4);
      expect(list.map((e) => [e.key, e.estimate])).toEqual([
        [new Uint8Array([0xff, 0x00]), 5],
        ['a', 3],
        [7, 2],
        ['b', 1],
      ]);
      expect(() => top.update('a', -1)).toThrow(RangeError);
    });

    it('merges with weights: the sketch adds up and the largest candidates of all remain', () => {
      const a = zipfStream(1, 30_000, 5000, 1.1);
      const b = zipfStream(2, 30_000, 5000, 1.1);
      const make = () => new TopK(10, { width: 2000, depth: 4, seed: 9, backend: be });
      const left = make().updateMany(a);
      const right = make().updateMany(b);
      left.merge({ topK: right, weight: 2 });
      // Conservative sketches do not add up to the sketch of the joined stream, but to the sum of sketches.
      const summed = make()
        .updateMany(a)
        .sketch.merge({ sketch: make().updateMany(b).sketch, weight: 2 });
      expect(left.sketch.toBuffer().equals(summed.toBuffer())).toBe(true);
      const truth = exactCounts(a);
      for (const [k, n] of exactCounts(b)) truth.set(k, (truth.get(k) ?? 0) + 2 * n);
      const list = left.list();
      expect(list.map((e) => e.key)).toEqual(expect.arrayContaining(exactTop(truth, 5)));
      for (const e of list) expect(e.estimate).toBeGreaterThanOrEqual(truth.get(e.key as string)!);
      expect(() => left.merge(new TopK(10, { width: 2001, depth: 4, seed: 9, backend: be }))).toThrow(/must match/);
      expect(() => left.merge({} as TopK)).toThrow(TypeError);
    });

    it('round-trips through toBuffer/fromBuffer with every key type, on both backends', () => {
      const top = new TopK(6, { width: 300, depth: 3, counter: 'u64', seed: 5n, backend: be });
      const keys: Key[] = ['x', 'y', new Uint8Array([1, 2, 255]), -42, 1n << 62n, '日本'];
      top.updateMany(keys, [10, 9, 8, 7, 6, 5]);
      top.updateMany(zipfStream(4, 2000, 500, 1.1));
      const buf = top.toBuffer();
      for (const other of backends) {
        const back = TopK.fromBuffer(buf, { backend: other });
        expect(back.k).toBe(6);
        expect(back.list()).toEqual(top.list());
        expect(back.toBuffer().equals(buf)).toBe(true);
      }
    });

    it('rejects bad arguments and damaged buffers with the reason', () => {
      expect(() => new TopK(0, { backend: be })).toThrow(/k must be an integer in \[1, 1048576\], got 0/);
      expect(() => new TopK(5, { width: 10, depth: 2, epsilon: 0.1, backend: be })).toThrow(/not both/);
      expect(() => new TopK(5, { epsilon: 2, backend: be })).toThrow(RangeError);
      const top = new TopK(3, { width: 50, depth: 2, backend: be });
      expect(() => top.updateMany(['a', 1.5 as Key])).toThrow(RangeError);
      expect(top.size).toBe(0);
      const buf = top.updateMany(['a', 'b', 'c', 'd']).toBuffer();
      for (let n = 0; n < buf.length; n += 7)
        expect(() => TopK.fromBuffer(buf.subarray(0, n), { backend: be })).toThrow(Error);
      const r = rng(3);
      for (let trial = 0; trial < 200; trial++) {
        const bad = Buffer.from(buf);
        bad[Math.floor(r() * bad.length)] ^= 1 + Math.floor(r() * 255);
        expect(() => TopK.fromBuffer(bad, { backend: be })).toThrow(/magic|version|checksum|truncated/);
      }
    });
  });
}

suite.runIf(backend === 'native')('TopK: native and pure-TS agree', () => {
  it('on the same stream, list for list', () => {
    const stream = zipfStream(8, 50_000, 5000, 1.2);
    const make = (be: 'native' | 'js') => new TopK(15, { width: 1000, depth: 5, backend: be }).updateMany(stream);
    expect(make('native').list()).toEqual(make('js').list());
    expect(make('native').toBuffer().equals(make('js').toBuffer())).toBe(true);
  });
});
