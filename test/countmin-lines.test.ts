// The byte path of the count-min sketch (updateLines): keys split from bytes must hash exactly as the same
// keys given as strings to updateMany, on both backends, whatever the chunking of the stream and the
// number of threads.
import { describe, expect, it } from 'vitest';
import { CountMinSketch, TopK } from 'hotpath';
import { backends, rng } from './helpers.js';

const encoder = new TextEncoder();

function randomKeys(seed: number, n: number): string[] {
  const r = rng(seed);
  const alphabet = ['a', 'b', 'c', 'é', '漢', '😀', '-', '_', '1', '2'];
  return Array.from({ length: n }, () => {
    const length = 1 + Math.floor(r() * 12);
    let key = '';
    for (let i = 0; i < length; i++) key += alphabet[Math.floor(r() * (r() < 0.8 ? 4 : alphabet.length))];
    return key;
  });
}

function counters(sketch: CountMinSketch): Buffer {
  return Buffer.from(sketch.toBuffer());
}

describe.each(backends)('CountMinSketch.updateLines (%s)', (backend) => {
  it('counts the same as updateMany of the keys as strings (UTF-8, CRLF, empty lines skipped)', () => {
    for (const counter of ['u32', 'u64'] as const) {
      const keys = randomKeys(1, 3000);
      const text = keys.map((k, i) => (i % 7 === 0 ? `${k}\r\n` : i % 11 === 0 ? `${k}\n\n` : `${k}\n`)).join('');
      const viaLines = CountMinSketch.withDimensions(257, 5, { backend, counter, seed: 42 }).updateLines(
        encoder.encode(text),
      );
      const viaStrings = CountMinSketch.withDimensions(257, 5, { backend, counter, seed: 42 }).updateMany(keys);
      expect(viaLines.totalCount).toBe(keys.length);
      expect(counters(viaLines).equals(counters(viaStrings))).toBe(true);
    }
  });

  it('counts a key split across chunks once, at every split point (stream: true)', () => {
    const text = encoder.encode('alpha\r\nbeta\ngamma délta\n\nalpha\r\n😀x\nlast');
    const whole = CountMinSketch.withDimensions(101, 4, { backend }).updateLines(text);
    for (let cut = 0; cut <= text.length; cut++) {
      for (const second of [cut, Math.min(text.length, cut + 3)]) {
        const s = CountMinSketch.withDimensions(101, 4, { backend });
        s.updateLines(text.subarray(0, cut), { stream: true });
        s.updateLines(text.subarray(cut, second), { stream: true });
        s.updateLines(text.subarray(second));
        expect(s.totalCount, `cut ${cut}/${second}`).toBe(whole.totalCount);
        expect(counters(s).equals(counters(whole)), `cut ${cut}/${second}`).toBe(true);
      }
    }
    // Random chunk sizes over a larger stream, flushed by a last call without stream.
    const r = rng(3);
    const big = encoder.encode(randomKeys(4, 5000).join('\n'));
    const reference = CountMinSketch.withDimensions(101, 4, { backend }).updateLines(big);
    const chunked = CountMinSketch.withDimensions(101, 4, { backend });
    for (let at = 0; at < big.length;) {
      const next = Math.min(big.length, at + 1 + Math.floor(r() * 40));
      chunked.updateLines(big.subarray(at, next), { stream: true });
      at = next;
    }
    chunked.updateLines(new Uint8Array(0));
    expect(counters(chunked).equals(counters(reference))).toBe(true);
  });

  it('splits at runs of ASCII whitespace or at any one byte', () => {
    const text = ' one two\tthree\n\nfour  five\r\nsix\vseven\fone ';
    const words = text.split(/[ \t\n\v\f\r]+/).filter((w) => w !== '');
    const byWords = CountMinSketch.withDimensions(64, 3, { backend }).updateLines(encoder.encode(text), {
      separator: 'whitespace',
    });
    expect(
      counters(byWords).equals(counters(CountMinSketch.withDimensions(64, 3, { backend }).updateMany(words))),
    ).toBe(true);
    const csv = encoder.encode('a,b,,c,a');
    for (const separator of [',', 0x2c]) {
      const s = CountMinSketch.withDimensions(64, 3, { backend }).updateLines(csv, { separator });
      expect(
        counters(s).equals(
          counters(CountMinSketch.withDimensions(64, 3, { backend }).updateMany(['a', 'b', 'c', 'a'])),
        ),
      ).toBe(true);
    }
    // A separator other than '\n' keeps '\r' as part of the key.
    const nul = CountMinSketch.withDimensions(64, 3, { backend }).updateLines(encoder.encode('x\r\0y'), {
      separator: 0,
    });
    expect(nul.estimate('x\r')).toBe(1);
  });

  it('reads SharedArrayBuffer views and unaligned subarrays', () => {
    const text = encoder.encode('zz\nkey-1\nkey-2\nkey-1\n');
    const shared = new Uint8Array(new SharedArrayBuffer(text.length + 3)).subarray(3);
    shared.set(text);
    const s = CountMinSketch.withDimensions(64, 3, { backend }).updateLines(shared.subarray(1));
    expect([s.estimate('z'), s.estimate('key-1'), s.estimate('key-2'), s.totalCount]).toEqual([1, 2, 1, 4]);
  });

  it('rejects what it does not understand', () => {
    const s = CountMinSketch.withDimensions(16, 2, { backend });
    expect(() => s.updateLines('a\nb' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => s.updateLines(new Uint16Array(2) as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => s.updateLines(new Uint8Array(1), { seperator: ',' } as never)).toThrow(/unknown option 'seperator'/);
    for (const separator of ['ab', 'é', 256, -1, 1.5])
      expect(() => s.updateLines(new Uint8Array(1), { separator })).toThrow(RangeError);
    expect(() => s.updateLines(new Uint8Array(1), { separator: null as never })).toThrow(TypeError);
    expect(() => s.updateLines(new Uint8Array(1), { threads: 0 })).toThrow(RangeError);
    expect(() => s.updateLines(new Uint8Array(1), { stream: 'yes' as never })).toThrow(TypeError);
    expect(s.totalCount).toBe(0);
  });

  it('stays within epsilon * N of the exact counts (probability 1 - delta)', () => {
    const r = rng(8);
    const keys = Array.from({ length: 50_000 }, () => `k${Math.floor(1 / (r() + 1e-3))}`);
    const s = CountMinSketch.withErrorRate(0.001, 0.01, { backend }).updateLines(encoder.encode(keys.join('\n')));
    const exact = new Map<string, number>();
    for (const k of keys) exact.set(k, (exact.get(k) ?? 0) + 1);
    let over = 0;
    for (const [k, n] of exact) {
      const e = s.estimate(k);
      expect(e).toBeGreaterThanOrEqual(n);
      if (e - n > s.errorBound) over++;
    }
    expect(over / exact.size).toBeLessThanOrEqual(0.01);
  });
});

describe('CountMinSketch.updateLines on threads', () => {
  it('gives the counters of one sequential pass, with any thread count (native)', () => {
    const keys = randomKeys(9, 700_000);
    const bytes = encoder.encode(keys.join('\n'));
    expect(bytes.length).toBeGreaterThan(4 << 20); // large enough to be split into parts
    for (const counter of ['u32', 'u64'] as const) {
      const one = CountMinSketch.withDimensions(1000, 4, { counter }).updateLines(bytes, { threads: 1 });
      for (const threads of [2, 3, 8]) {
        const many = CountMinSketch.withDimensions(1000, 4, { counter }).updateLines(bytes, { threads });
        expect(many.totalCount).toBe(keys.length);
        expect(counters(many).equals(counters(one)), `${counter}, ${threads} threads`).toBe(true);
      }
      const js = CountMinSketch.withDimensions(1000, 4, { counter, backend: 'js' }).updateMany(keys);
      expect(counters(one).equals(counters(js))).toBe(true);
    }
  });
});

describe.each(backends)('TopK.updateLines (%s)', (backend) => {
  it('finds the heavy hitters updateMany finds, with the same estimates', () => {
    const r = rng(12);
    const keys = Array.from({ length: 40_000 }, () => `item-${Math.floor(1 / (r() * 0.999 + 0.001)) % 5000}`);
    const text = encoder.encode(keys.join('\n') + '\n');
    const viaLines = new TopK(10, { width: 2000, depth: 4, backend });
    for (let at = 0; at < text.length; at += 4096) viaLines.updateLines(text.subarray(at, at + 4096), { stream: true });
    viaLines.updateLines(new Uint8Array(0));
    const viaStrings = new TopK(10, { width: 2000, depth: 4, backend }).updateMany(keys);
    expect(viaLines.sketch.totalCount).toBe(keys.length);
    expect(counters(viaLines.sketch).equals(counters(viaStrings.sketch))).toBe(true);
    expect(viaLines.list()).toEqual(viaStrings.list());
  });

  it('keeps keys that are not UTF-8 as bytes', () => {
    const bytes = Uint8Array.of(0xff, 0xfe, 0x0a, 0xff, 0xfe, 0x0a, 0x61);
    const top = new TopK(2, { width: 64, depth: 3, backend }).updateLines(bytes);
    const [first] = top.list();
    expect(first.key).toEqual(Uint8Array.of(0xff, 0xfe));
    expect(first.estimate).toBe(2);
  });
});
