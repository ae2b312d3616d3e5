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

/**
 * Keys of every length 0..80 (every shape of the hash's tail, the native batches sort by it), mixing ASCII, 2-, 3-
 * and 4-byte UTF-8 and unpaired surrogates (UTF-8 as U+FFFD on every path), and empty keys.
 */
function variedKeys(seed: number, n: number): string[] {
  const r = rng(seed);
  const pieces = ['a', 'Z', '-', '9', 'é', 'ж', '漢', '😀', '\uD800', '\uDC00', ' '];
  return Array.from({ length: n }, () => {
    const length = Math.floor(r() * r() * 81);
    let key = '';
    while (key.length < length) key += pieces[Math.floor(r() * (r() < 0.7 ? 4 : pieces.length))];
    return key;
  });
}

/** The keys of bytes split as the byte path documents it, by an independent reference splitter. */
function referenceSplit(bytes: Uint8Array, separator: number | 'whitespace'): Uint8Array[] {
  const isSeparator = (b: number) =>
    separator === 'whitespace' ? b === 0x20 || (b >= 0x09 && b <= 0x0d) : b === separator;
  const keys: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && !isSeparator(bytes[i])) continue;
    let end = i;
    if (separator === 0x0a && i < bytes.length && end > start && bytes[end - 1] === 0x0d) end--;
    if (end > start) keys.push(bytes.slice(start, end));
    start = i + 1;
  }
  return keys;
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

  it('matches a reference splitter on random bytes: separators at every offset of the 64-byte blocks', () => {
    const r = rng(21);
    const alphabet = [0x61, 0x62, 0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x00, 0xff, 0x2c, 0xc3, 0xa9];
    for (let trial = 0; trial < 60; trial++) {
      const bytes = Uint8Array.from({ length: Math.floor(r() * 400) }, () =>
        r() < 0.6 ? 0x61 + Math.floor(r() * 3) : alphabet[Math.floor(r() * alphabet.length)],
      );
      for (const separator of ['whitespace', 0x0a, 0x00, 0x2c, 0xff] as const) {
        const viaLines = CountMinSketch.withDimensions(97, 3, { backend, seed: trial }).updateLines(bytes, {
          separator,
        });
        const keys = referenceSplit(bytes, separator);
        const viaKeys = CountMinSketch.withDimensions(97, 3, { backend, seed: trial }).updateMany(keys);
        expect(viaLines.totalCount, `trial ${trial}, separator ${separator}`).toBe(keys.length);
        expect(counters(viaLines).equals(counters(viaKeys)), `trial ${trial}, separator ${separator}`).toBe(true);
      }
    }
  });

  it('counts random keys of every length and script as updateMany does, at every depth, in any chunking', () => {
    const r = rng(22);
    for (const depth of [1, 2, 5, 8, 9, 13]) {
      for (const counter of ['u32', 'u64'] as const) {
        const keys = variedKeys(depth, 1500);
        const text = keys.map((k) => k + (r() < 0.2 ? '\r\n' : '\n')).join('');
        const bytes = encoder.encode(text);
        const make = () => CountMinSketch.withDimensions(211, depth, { backend, counter, seed: 7n << 40n });
        const viaStrings = make().updateMany(keys.filter((k) => k !== ''));
        const whole = make().updateLines(bytes);
        const chunked = make();
        for (let at = 0; at < bytes.length;) {
          const next = Math.min(bytes.length, at + Math.floor(r() * 300));
          chunked.updateLines(bytes.subarray(at, next), { stream: true });
          at = next;
        }
        chunked.updateLines(new Uint8Array(0));
        const label = `depth ${depth} ${counter}`;
        expect(whole.totalCount, label).toBe(viaStrings.totalCount);
        expect(counters(whole).equals(counters(viaStrings)), label).toBe(true);
        expect(counters(chunked).equals(counters(viaStrings)), label).toBe(true);
        if (backend === 'native') {
          const js = CountMinSketch.withDimensions(211, depth, { backend: 'js', counter, seed: 7n << 40n });
          expect(counters(js.updateLines(bytes)).equals(counters(whole)), label).toBe(true);
        }
      }
    }
  });

  it('saturates counters near their maximum on the byte path as update() does', () => {
    const many = encoder.encode('a\nb\n'.repeat(50_000));
    for (const counter of ['u32', 'u64'] as const) {
      const max = counter === 'u32' ? 2 ** 32 - 1 : Number.MAX_SAFE_INTEGER;
      const start = counter === 'u32' ? max - 1000 : 0;
      const s = CountMinSketch.withDimensions(4, 2, { backend, counter }).update('a', start).updateLines(many);
      const expected = CountMinSketch.withDimensions(4, 2, { backend: 'js', counter }).update('a', start);
      for (let i = 0; i < 50_000; i++) expected.update('a').update('b');
      expect(s.estimate('a')).toBe(counter === 'u32' ? max : 50_000);
      expect(counters(s).equals(counters(expected)), counter).toBe(true);
    }
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
