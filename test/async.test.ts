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
    const out = await mapAsync(
      delays,
      async (ms, { index }) => {
        running++;
        peak = Math.max(peak, running);
        await tick(ms);
        running--;
        return index * 10;
      },
      { concurrency: 4 },
    ).toArray();
    expect(out).toEqual(delays.map((_, i) => i * 10));
    expect(peak).toBe(4);
  });

  it('ordered: false yields in completion order', async () => {
    const out = await mapAsync(
      [30, 1, 15],
      async (ms) => {
        await tick(ms);
        return ms;
      },
      { ordered: false, concurrency: 3 },
    ).toArray();
    expect(out).toEqual([1, 15, 30]);
  });

  it('bounded memory on an infinite generator: pulls stay within concurrency + buffer; break closes it', async () => {
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
    for await (const value of mapAsync(
      naturals(),
      async (i) => {
        await tick(i % 3);
        return i;
      },
      { concurrency },
    )) {
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
    const out = await mapAsync(
      [7],
      async (x, { attempt }) => {
        attempts.push(attempt);
        if (attempt < 2) throw new Error(`flaky ${attempt}`);
        return x;
      },
      { retries: 3, backoff: (n) => (delays.push(n), 1) },
    ).toArray();
    expect(out).toEqual([7]);
    expect(attempts).toEqual([0, 1, 2]);
    expect(delays).toEqual([1, 2]);
    await expect(
      mapAsync(
        [1],
        () => {
          throw new RangeError('always');
        },
        { retries: 2, backoff: 1 },
      ).toArray(),
    ).rejects.toThrow(RangeError);
  });

  it('times out an attempt with a TimeoutError and aborts its signal', async () => {
    let aborted: unknown;
    const error = (await mapAsync(
      [1],
      (_x, { signal }) =>
        new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => {
            aborted = signal.reason;
            reject(signal.reason);
          });
        }),
      { timeout: 20 },
    )
      .toArray()
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toBe('mapAsync: item 0 timed out after 20 ms');
    expect(aborted).toBe(error);
  });

  it("the caller's signal stops the iteration with an AbortError and aborts running calls", async () => {
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const iteration = mapAsync(
      [1, 2, 3],
      (_x, { signal }) => {
        signals.push(signal);
        return new Promise(() => {});
      },
      { signal: controller.signal, concurrency: 2 },
    ).toArray();
    await tick(5);
    controller.abort();
    await expect(iteration).rejects.toBeInstanceOf(AbortError);
    expect(signals.length).toBe(2);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  it('a failure stops the iteration after the results before it, and aborts the later running calls', async () => {
    const signals: AbortSignal[] = [];
    const got: number[] = [];
    const iteration = (async () => {
      for await (const x of mapAsync(
        [0, 1, 2],
        async (x, { signal }) => {
          signals.push(signal);
          if (x === 1) throw new Error('item 1 broke');
          await tick(x === 0 ? 10 : 1000);
          return x;
        },
        { concurrency: 3 },
      ))
        got.push(x);
    })();
    await expect(iteration).rejects.toThrow('item 1 broke');
    expect(got).toEqual([0]);
    expect(signals[2].aborted).toBe(true);
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
      const bodies = await mapAsync(urls, async (url, { signal }) => (await fetch(url, { signal })).text(), {
        concurrency: 8,
      }).toArray();
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
    await expect(
      sem.use(() => {
        throw new Error('inside');
      }),
    ).rejects.toThrow('inside');
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
    expect(await gather([thunk(1), Promise.resolve(2), thunk(3), thunk(4), 5], { concurrency: 2 })).toEqual([
      1, 2, 3, 4, 5,
    ]);
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

/** 'pending' if `promise` has not settled after `ms`, else how it settled. */
async function stateAfter(promise: Promise<unknown>, ms: number): Promise<string> {
  const outcome = promise.then(
    () => 'fulfilled',
    (e: Error) => `rejected: ${e.name}`,
  );
  return Promise.race([outcome, tick(ms).then(() => 'pending')]);
}

suite('async helpers: issue 16 defects', () => {
  it('ordered mapAsync yields every result before the failing index, then throws (defect 3)', async () => {
    const got: number[] = [];
    const iteration = (async () => {
      for await (const value of mapAsync(
        [0, 1, 2, 3],
        async (x) => {
          if (x === 2) throw new RangeError('item 2 broke');
          await tick(x === 0 ? 30 : 1); // item 0 is still running when item 2 fails
          return x * 10;
        },
        { concurrency: 4 },
      ))
        got.push(value);
    })();
    await expect(iteration).rejects.toThrow('item 2 broke');
    expect(got).toEqual([0, 10]);
  });

  it('Semaphore.use does not run fn when the signal aborts after the permit was handed over (defect 7)', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    let ran = false;
    const use = sem.use(
      () => {
        ran = true;
      },
      { signal: controller.signal },
    );
    held(); // hands the permit to the waiting use() ...
    controller.abort(); // ... which is aborted before it resumes
    await expect(use).rejects.toBeInstanceOf(AbortError);
    expect(ran).toBe(false);
    expect(sem.available).toBe(1);
  });

  it("aborting gather's signal aborts its running thunks and cancels Future tasks (defect 8)", async () => {
    const { Future } = await import('hotpath');
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const future = new Future<number>(() => {});
    const gathering = gather<number>(
      [
        (signal) => {
          signals.push(signal);
          return new Promise<number>(() => {});
        },
        future,
      ],
      { signal: controller.signal },
    );
    await tick(5);
    controller.abort();
    await expect(gathering).rejects.toBeInstanceOf(AbortError);
    expect(signals.length).toBe(1);
    expect(signals[0].aborted).toBe(true);
    expect(future.cancelled).toBe(true);
  });

  // asyncio wait_for(timeout=0)
  it('withTimeout(work, 0) times out without starting a function (defect 10)', async () => {
    let started = false;
    await expect(
      withTimeout(() => {
        started = true;
        return 'ran';
      }, 0),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect(started).toBe(false);
    await expect(withTimeout(Promise.resolve('ok'), 0)).rejects.toBeInstanceOf(TimeoutError);
    const { Future } = await import('hotpath');
    const settled = Future.from('done');
    await settled;
    expect(await withTimeout(settled, 0)).toBe('done');
  });

  it('Infinity and timeouts of 2^31 ms or more do not fire early (defect 14)', async () => {
    const never = () => new Promise<never>(() => {});
    for (const ms of [Infinity, 2 ** 31, 2 ** 32 + 5]) {
      expect(await stateAfter(withTimeout(never(), ms), 30)).toBe('pending');
      const stop = new AbortController();
      const stream = mapAsync([1], () => never(), { timeout: ms, signal: stop.signal }).toArray();
      expect(await stateAfter(stream, 30)).toBe('pending');
      stop.abort();
      await expect(stream).rejects.toBeInstanceOf(AbortError);
    }
    expect(() => withTimeout(never(), -1)).toThrow(RangeError);
    expect(() => withTimeout(never(), NaN)).toThrow(RangeError);
    expect(() => mapAsync([1], (x) => x, { timeout: -Infinity })).toThrow(RangeError);
  });

  it('gather returnExceptions puts failures in their slots (asyncio gather(return_exceptions=True))', async () => {
    const failure = new RangeError('second');
    const results = await gather([Promise.resolve(1), Promise.reject(failure), () => 3], { returnExceptions: true });
    expect(results).toEqual([1, failure, 3]);
    expect(() => gather([], { returnExceptions: 'yes' as never })).toThrow(TypeError);
  });

  it("withTimeout's signal cancels the wait and aborts the work's signal", async () => {
    const controller = new AbortController();
    let workSignal!: AbortSignal;
    const waiting = withTimeout(
      (signal) => {
        workSignal = signal;
        return new Promise(() => {});
      },
      10_000,
      { signal: controller.signal },
    );
    controller.abort();
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    expect(workSignal.aborted).toBe(true);
  });
});
