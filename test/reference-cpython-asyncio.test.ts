// Cases ported from CPython's Lib/test/test_asyncio/ (test_waitfor.py, test_locks.py SemaphoreTests,
// test_tasks.py's gather tests), run against hotpath's withTimeout, Semaphore and gather. Each case
// names the test it ports; where hotpath deliberately differs (docs/api.md) the case says so.
import { describe, expect, it } from 'vitest';
import { AbortError, Future, Semaphore, TimeoutError, gather, withTimeout } from 'hotpath';

const sleep = <T>(ms: number, value?: T) => new Promise<T | undefined>((r) => setTimeout(() => r(value), ms));

describe('test_waitfor.py', () => {
  it('test_wait_for_result: the result when it comes in time', async () => {
    expect(await withTimeout(sleep(5, 'done'), 1000)).toBe('done');
  });

  it('test_wait_for: a TimeoutError when it does not, and the work is told to stop', async () => {
    let cancelled = false;
    const started = Date.now();
    await expect(
      withTimeout((signal) => {
        signal.addEventListener('abort', () => (cancelled = true));
        return sleep(10_000);
      }, 50),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(cancelled).toBe(true);
  });

  it('test_wait_for_timeout_less_then_0_or_0_future_done: a settled Future gives its result', async () => {
    const done = Future.from('done');
    await done;
    expect(await withTimeout(done, 0)).toBe('done');
  });

  it('test_wait_for_timeout_less_then_0_or_0_coroutine_do_not_started: the work is never started', async () => {
    let started = false;
    await expect(
      withTimeout(async () => {
        started = true;
      }, 0),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect(started).toBe(false);
  });

  it('test_wait_for_timeout_less_then_0_or_0: a pending Future is cancelled (negative: RangeError here)', async () => {
    const pending = new Future<number>(() => {});
    await expect(withTimeout(pending, 0)).rejects.toBeInstanceOf(TimeoutError);
    expect(pending.cancelled).toBe(true);
    expect(() => withTimeout(pending, -1)).toThrow(RangeError);
  });

  it('test_wait_for_with_none_timeout analogue: Infinity waits for the result', async () => {
    expect(await withTimeout(sleep(20, 'late'), Infinity)).toBe('late');
  });

  it("test_wait_for_cancellation analogue: the caller's signal cancels the wait and the work", async () => {
    const controller = new AbortController();
    let aborted = false;
    const waiting = withTimeout(
      (signal) => {
        signal.addEventListener('abort', () => (aborted = true));
        return sleep(10_000);
      },
      10_000,
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 5);
    await expect(waiting).rejects.toBeInstanceOf(AbortError);
    expect(aborted).toBe(true);
  });
});

describe('test_locks.py SemaphoreTests', () => {
  it('test_initial_value_zero / test_semaphore_value: permits must be >= 1 (asyncio allows 0)', () => {
    expect(() => new Semaphore(-1)).toThrow(RangeError);
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });

  it('test_acquire: waiters are served in order as permits come back', async () => {
    const sem = new Semaphore(3);
    const result: number[] = [];
    const releases = [await sem.acquire(), await sem.acquire()];
    const waiters = [1, 2, 3].map((n) => sem.acquire().then((release) => (result.push(n), release)));
    await sleep(5);
    expect(result).toEqual([1]);
    releases[0]();
    await sleep(5);
    expect(result).toEqual([1, 2]);
    releases[1]();
    for (const release of await Promise.all(waiters)) release();
    expect(result).toEqual([1, 2, 3]);
    expect(sem.available).toBe(3);
  });

  it('test_acquire_cancel: a cancelled waiter leaves the queue and the permit goes to the next', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    const cancelled = sem.acquire({ signal: controller.signal });
    const next = sem.acquire();
    controller.abort();
    await expect(cancelled).rejects.toBeInstanceOf(AbortError);
    held();
    (await next)();
    expect([sem.available, sem.waiting]).toEqual([1, 0]);
  });

  it('test_acquire_cancel_before_awoken: a permit handed to a cancelled use() is passed on', async () => {
    const sem = new Semaphore(1);
    const held = await sem.acquire();
    const controller = new AbortController();
    let ran = false;
    const use = sem.use(() => (ran = true), { signal: controller.signal });
    const other = sem.use(() => 'other ran');
    held();
    controller.abort();
    await expect(use).rejects.toBeInstanceOf(AbortError);
    expect(await other).toBe('other ran');
    expect(ran).toBe(false);
    expect(sem.available).toBe(1);
  });

  it('test_context_manager analogue: use() releases after success and failure', async () => {
    const sem = new Semaphore(2);
    expect(await sem.use(() => sem.available)).toBe(1);
    await expect(sem.use(() => Promise.reject(new Error('inside')))).rejects.toThrow('inside');
    expect(sem.available).toBe(2);
  });
});

describe('test_tasks.py gather', () => {
  it('test_constructor_empty_sequence', async () => {
    expect(await gather([])).toEqual([]);
  });

  it('test_result_exception_success: results keep input order', async () => {
    expect(await gather([sleep(20, 'a'), sleep(1, 'b'), () => 'c'])).toEqual(['a', 'b', 'c']);
  });

  it('test_one_exception: the first failure rejects', async () => {
    const failure = new RangeError('one');
    await expect(gather([sleep(5, 1), Promise.reject(failure), sleep(10, 3)])).rejects.toBe(failure);
  });

  it('test_return_exceptions', async () => {
    const a = new RangeError('a');
    const c = new TypeError('c');
    expect(
      await gather([Promise.reject(a), sleep(1, 'b'), () => Promise.reject(c)], { returnExceptions: true }),
    ).toEqual([a, 'b', c]);
  });

  it('test_cancellation_broadcast: cancelling the gather cancels its children', async () => {
    const controller = new AbortController();
    const child = new Future<number>(() => {});
    const signals: AbortSignal[] = [];
    const gathering = gather([child, (signal: AbortSignal) => (signals.push(signal), new Promise(() => {}))], {
      signal: controller.signal,
    });
    await sleep(5);
    controller.abort();
    await expect(gathering).rejects.toBeInstanceOf(AbortError);
    expect(child.cancelled).toBe(true);
    expect(signals[0].aborted).toBe(true);
  });
});
