import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe as suite, expect, it } from 'vitest';
import { AbortError, Semaphore, TimeoutError, gather, mapAsync, withTimeout } from 'hotpath';
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
    const error = (await mapAsync([1], (_x, { signal }) => new Promise((_resolve, reject) => {
      signal.addEventListener('abort', () => {
        aborted = signal.reason;
        reject(signal.reason);
      });
    }), { timeout: 20 }).toArray().catch((e: unknown) => e)) as Error;
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

suite('mapAsync over HTTP (the recipe)', () => {
  it('fetches 100 URLs from a local server with at most 8 requests open', async () => {
    let open = 0;
    let peak = 0;
    const server = http.createServer((req, res) => {
      open++;
      peak = Math.max(peak, open);
      setTimeout(() => {
        open--;
        res.end(`page ${req.url?.slice(1)}`);
      }, 2);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const urls = Array.from({ length: 100 }, (_, i) => `http://127.0.0.1:${port}/${i}`);
      const bodies = await mapAsync(urls, async (url, { signal }) => (await fetch(url, { signal })).text(), { concurrency: 8 }).toArray();
      expect(bodies).toEqual(urls.map((_, i) => `page ${i}`));
      expect(peak).toBeLessThanOrEqual(8);
      expect(peak).toBeGreaterThan(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

suite('Semaphore', () => {
  it('admits at most `permits` holders, first come first served, and release is idempotent', async () => {
    const sem = new Semaphore(2);
    const a = await sem.acquire();
    const b = sem.tryAcquire();
    expect(b).not.toBeNull();
    expect(sem.tryAcquire()).toBeNull();
    const order: string[] = [];
    const c = sem.acquire().then((r) => (order.push('c'), r));
    const d = sem.acquire().then((r) => (order.push('d'), r));
    expect(sem.waiting).toBe(2);
    a();
    a();
    await c;
    expect(order).toEqual(['c']);
    expect(sem.available).toBe(0);
    b!();
    (await d)();
    (await c)();
    expect(order).toEqual(['c', 'd']);
    expect(sem.available).toBe(2);
  });

  it('use() releases after failure; an aborted acquire leaves the queue', async () => {
    const sem = new Semaphore(1);
    await expect(sem.use(() => {
      throw new Error('inside');
    })).rejects.toThrow('inside');
    expect(sem.available).toBe(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const waiting = sem.acquire({ signal: controller.signal });
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    expect(sem.waiting).toBe(0);
    held();
    expect(await sem.use(() => 5)).toBe(5);
  });

  it('rejects bad arguments', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
    expect(() => new Semaphore('2' as never)).toThrow(TypeError);
    expect(() => new Semaphore(1).acquire({ signal: 1 as never })).toThrow(TypeError);
  });
});

suite('gather and withTimeout', () => {
  it('gather keeps order, caps started thunks, accepts promises and values', async () => {
    let running = 0;
    let peak = 0;
    const thunk = (v: number) => async () => {
      running++;
      peak = Math.max(peak, running);
      await tick(2);
      running--;
      return v;
    };
    expect(await gather([thunk(1), Promise.resolve(2), thunk(3), thunk(4), 5], { concurrency: 2 })).toEqual([1, 2, 3, 4, 5]);
    expect(peak).toBeLessThanOrEqual(2);
    await expect(gather([Promise.reject(new RangeError('no'))])).rejects.toThrow(RangeError);
    expect(() => gather([], { concurrency: 0 })).toThrow(RangeError);
  });

  it('withTimeout settles like the work, or rejects with a TimeoutError and aborts the work signal', async () => {
    expect(await withTimeout(Promise.resolve('ok'), 50)).toBe('ok');
    await expect(withTimeout(Promise.reject(new TypeError('t')), 50)).rejects.toThrow(TypeError);
    let aborted = false;
    const error = (await withTimeout((signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      return new Promise(() => {});
    }, 10).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toBe('withTimeout: timed out after 10 ms');
    expect(aborted).toBe(true);
    expect(() => withTimeout(5 as never, 10)).toThrow(TypeError);
    expect(() => withTimeout(Promise.resolve(1), -5)).toThrow(RangeError);
  });
});
