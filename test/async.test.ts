import { describe as suite, expect, it } from 'vitest';
import { AbortError, TimeoutError, mapAsync } from 'hotpath';
import { rng } from './helpers.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

suite('mapAsync', () => {
  it('keeps source order by default and never runs more than `concurrency` at once', async () => {
    const random = rng(11);
    const delays = Array.from({ length: 40 }, () => Math.floor(random() * 8));
    let running = 0;
    let peak = 0;
    const out = await mapAsync(delays, async (ms, { index }) => {
      running++;
      peak = Math.max(peak, running);
      await tick(ms);
      running--;
      return index * 10;
    }, { concurrency: 4 }).toArray();
    expect(out).toEqual(delays.map((_, i) => i * 10));
    expect(peak).toBe(4);
  });

  it('ordered: false yields in completion order', async () => {
    const out = await mapAsync([30, 1, 15], async (ms) => {
      await tick(ms);
      return ms;
    }, { ordered: false, concurrency: 3 }).toArray();
    expect(out).toEqual([1, 15, 30]);
  });

  it('bounded memory on an infinite generator: pulls stay within concurrency + buffer, and break closes the source', async () => {
    let pulled = 0;
    let closed = false;
    function* naturals() {
      try {
        for (let i = 0; ; i++) {
          pulled++;
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    const concurrency = 5;
    let consumed = 0;
    let maxAhead = 0;
    for await (const value of mapAsync(naturals(), async (i) => {
      await tick(i % 3);
      return i;
    }, { concurrency })) {
      expect(value).toBe(consumed);
      consumed++;
      maxAhead = Math.max(maxAhead, pulled - consumed);
      if (consumed === 300) break;
    }
    expect(closed).toBe(true);
    expect(maxAhead).toBeLessThanOrEqual(2 * concurrency);
  });

  it('works on async iterables and sync functions', async () => {
    async function* letters() {
      yield 'a';
      await tick(1);
      yield 'b';
    }
    expect(await mapAsync(letters(), (s) => s.toUpperCase()).toArray()).toEqual(['A', 'B']);
    expect(await mapAsync([], (x) => x).toArray()).toEqual([]);
  });

  it('retries failures with backoff, passing the attempt number', async () => {
    const attempts: number[] = [];
    const delays: number[] = [];
    const out = await mapAsync([7], async (x, { attempt }) => {
      attempts.push(attempt);
      if (attempt < 2) throw new Error(`flaky ${attempt}`);
      return x;
    }, { retries: 3, backoff: (n) => (delays.push(n), 1) }).toArray();
    expect(out).toEqual([7]);
    expect(attempts).toEqual([0, 1, 2]);
    expect(delays).toEqual([1, 2]);
    await expect(mapAsync([1], () => {
      throw new RangeError('always');
    }, { retries: 2, backoff: 1 }).toArray()).rejects.toThrow(RangeError);
  });

  it('times out an attempt with a TimeoutError and aborts its signal', async () => {
    let aborted: unknown;
    const error = await mapAsync([1], (_x, { signal }) => new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => {
        aborted = signal.reason;
        reject(signal.reason);
      });
    }), { timeout: 20 }).toArray().catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toBe('mapAsync: item 0 timed out after 20 ms');
    expect(aborted).toBe(error);
  });

  it("the caller's signal stops the iteration with an AbortError and aborts running calls", async () => {
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const iteration = mapAsync([1, 2, 3], (_x, { signal }) => {
      signals.push(signal);
      return new Promise(() => {});
    }, { signal: controller.signal, concurrency: 2 }).toArray();
    await tick(5);
    controller.abort();
    await expect(iteration).rejects.toBeInstanceOf(AbortError);
    expect(signals.length).toBe(2);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  it('a failure stops the iteration and aborts the other running calls', async () => {
    const signals: AbortSignal[] = [];
    const iteration = mapAsync([0, 1, 2], async (x, { signal }) => {
      signals.push(signal);
      if (x === 1) throw new Error('item 1 broke');
      await tick(1000);
      return x;
    }, { concurrency: 3 }).toArray();
    await expect(iteration).rejects.toThrow('item 1 broke');
    expect(signals[0].aborted && signals[2].aborted).toBe(true);
  });

  it('rejects bad arguments with TypeError/RangeError', () => {
    expect(() => mapAsync([1], 'fn' as never)).toThrow(/fn must be a function, got string/);
    expect(() => mapAsync([1], (x) => x, { concurrency: -1 })).toThrow(RangeError);
    expect(() => mapAsync([1], (x) => x, { concurrency: 1.5 })).toThrow(RangeError);
    expect(() => mapAsync([1], (x) => x, { timeout: NaN })).toThrow(RangeError);
    expect(() => mapAsync([1], (x) => x, { retries: -1 })).toThrow(RangeError);
    expect(() => mapAsync([1], (x) => x, { backoff: '1' as never })).toThrow(TypeError);
    expect(() => mapAsync([1], (x) => x, { ordered: 1 as never })).toThrow(TypeError);
    expect(() => mapAsync([1], (x) => x, { signal: 'stop' as never })).toThrow(TypeError);
    expect(() => mapAsync(42 as never, (x) => x)).toThrow(/source must be an iterable or async iterable, got number/);
  });
});
