// Cases ported from CPython's Lib/test/test_concurrent_futures/ (each names the test it ports),
// run against hotpath's Pool, Future, wait and asCompleted. Where hotpath deliberately differs
// (documented in docs/api.md, "Differences from Python"), the case asserts hotpath's behaviour and
// says so.
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { AbortError, BrokenPoolError, Future, Pool, TimeoutError, asCompleted, wait } from 'hotpath';
import { compileFixture } from './pool-fixture.js';

let tasks: string;
let pool: Pool;

beforeAll(() => {
  tasks = compileFixture('pool-tasks.ts');
  pool = new Pool({ filename: tasks, maxThreads: 2, minThreads: 2 });
});
afterAll(() => pool.close());

suite('executor.py (ExecutorTest)', () => {
  it('test_submit / test_submit_keyword: submit returns a Future with the result', async () => {
    expect(await pool.submit('mul', 2, 8)).toBe(16);
  });

  it('test_map: map over several iterables applies fn to their items side by side', async () => {
    const xs = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    expect(await pool.map('mul', xs, xs).toArray()).toEqual(xs.map((x) => x * x));
    expect(await pool.map('mul', xs, xs, { chunksize: 3 }).toArray()).toEqual(xs.map((x) => x * x));
    // Like Python's zip, the shortest iterable ends the map.
    expect(await pool.map('mul', [1, 2, 3], [10, 20]).toArray()).toEqual([10, 40]);
  });

  it('test_map_exception: the results before the failing item come first, then its error', async () => {
    const got: number[] = [];
    const iteration = (async () => {
      for await (const value of pool.map<number>('failAtZero', [5, 6, 0, 7], { chunksize: 1 })) got.push(value);
    })();
    await expect(iteration).rejects.toThrow('item 0 fails');
    expect(got).toEqual([5, 6]);
    got.length = 0;
    const chunked = (async () => {
      for await (const value of pool.map<number>('failAtZero', [5, 6, 0, 7], { chunksize: 4 })) got.push(value);
    })();
    await expect(chunked).rejects.toThrow('item 0 fails');
    expect(got).toEqual([5, 6]);
  });

  it('test_max_workers_negative: maxThreads must be >= 1', () => {
    expect(() => new Pool({ filename: tasks, maxThreads: 0 })).toThrow(RangeError);
    expect(() => new Pool({ filename: tasks, maxThreads: -1 })).toThrow(RangeError);
  });
});

suite('test_init.py', () => {
  it('InitializerMixin.test_initializer: every worker runs the initializer with initargs first', async () => {
    const local = new Pool({ filename: tasks, maxThreads: 2, initializer: 'init', initargs: ['initialized'] });
    const futures = [local.submit('getInitStatus'), local.submit('getInitStatus')];
    expect(await Promise.all(futures)).toEqual(['initialized', 'initialized']);
    await local.close();
  });

  it('FailingInitializerMixin.test_initializer: a failing initializer breaks the pool', async () => {
    const local = new Pool({ filename: tasks, maxThreads: 2, initializer: 'initFail' });
    const error = await local.submit('getInitStatus').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BrokenPoolError);
    expect((error as Error).message).toMatch(/initializer failed.*error in initializer/);
    expect(local.broken).toBe(true);
    expect(() => local.submit('getInitStatus')).toThrow(BrokenPoolError);
    await local.close();
  });

  it('initializer and initargs are checked', () => {
    expect(() => new Pool({ filename: tasks, initializer: 5 as never })).toThrow(
      /initializer must be the non-empty name/,
    );
    expect(() => new Pool({ filename: tasks, initializer: 'init', initargs: 'x' as never })).toThrow(
      /initargs must be an array/,
    );
    expect(() => new Pool({ filename: tasks, initargs: [1] })).toThrow(/initargs needs an initializer/);
  });
});

suite('test_process_pool.py', () => {
  it('test_max_tasks_per_child: a worker is replaced after maxTasksPerChild tasks', async () => {
    const local = new Pool({ filename: tasks, maxThreads: 1, maxTasksPerChild: 3 });
    const first = [
      await local.submit<number>('threadId'),
      await local.submit<number>('threadId'),
      await local.submit<number>('threadId'),
    ];
    expect(new Set(first).size).toBe(1);
    const fourth = await local.submit<number>('threadId');
    expect(fourth).not.toBe(first[0]);
    await local.close();
  });

  it('test_max_tasks_per_child, submitted at once: no task is lost while workers retire', async () => {
    const local = new Pool({ filename: tasks, maxThreads: 2, maxTasksPerChild: 1 });
    const ids = await Promise.all(Array.from({ length: 12 }, () => local.submit<number>('threadId')));
    expect(new Set(ids).size).toBe(12);
    expect(() => new Pool({ filename: tasks, maxTasksPerChild: 0 })).toThrow(RangeError);
    await local.close();
  });
});

suite('test_shutdown.py', () => {
  it('test_cancel_futures: close({ cancelFutures }) cancels queued tasks, running ones finish', async () => {
    const local = new Pool({ filename: tasks, maxThreads: 1, minThreads: 1 });
    const running = local.submit<number>('delayed', 1, 100);
    const queued = Array.from({ length: 5 }, (_, i) => local.submit('add', i, 0));
    while (!running.running) await new Promise((r) => setTimeout(r, 5));
    await local.close({ cancelFutures: true });
    expect(await running).toBe(1);
    expect(queued.every((f) => f.cancelled)).toBe(true);
    await expect(queued[0]).rejects.toBeInstanceOf(AbortError);
  });

  it('test_shutdown_race_issue12456 analogue: submit after close throws', async () => {
    const local = new Pool({ filename: tasks, maxThreads: 1 });
    await local.close();
    expect(() => local.submit('add', 1, 1)).toThrow(/the pool is closed/);
  });
});

suite('test_future.py', () => {
  it('test_result_with_timeout / test_exception_with_timeout: result({ timeout }), then TimeoutError', async () => {
    const pending = new Future<number>(() => {});
    await expect(pending.result({ timeout: 10 })).rejects.toBeInstanceOf(TimeoutError);
    await expect(pending.exception({ timeout: 10 })).rejects.toBeInstanceOf(TimeoutError);
    expect(pending.done).toBe(false);
    let resolve!: (v: number) => void;
    const later = new Future<number>((res) => (resolve = res));
    setTimeout(() => resolve(42), 10);
    expect(await later.result({ timeout: 5000 })).toBe(42);
    const failure = new RangeError('boom');
    const failed = new Future<number>((_, reject) => reject(failure));
    await expect(failed.result({ timeout: Infinity })).rejects.toBe(failure);
    expect(await failed.exception({ timeout: 0 })).toBe(failure);
  });

  it('test_done_callback_raises: the error is reported and the other callbacks still run', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const f = Future.from(5);
      let raisingWasCalled = false;
      let fnWasCalled = false;
      f.addDoneCallback(() => {
        raisingWasCalled = true;
        throw new Error('doh!');
      });
      f.addDoneCallback(() => (fnWasCalled = true));
      await new Promise((r) => setTimeout(r, 5));
      expect([raisingWasCalled, fnWasCalled]).toEqual([true, true]);
      expect(warnings.some((w) => w.message.includes('doh!'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('test_cancel: a pending future cancels, a finished one does not', async () => {
    const pending = new Future<number>(() => {});
    expect(pending.cancel()).toBe(true);
    expect(pending.cancelled).toBe(true);
    const finished = Future.from(1);
    await finished;
    expect(finished.cancel()).toBe(false);
    // Differs from Python (documented): a running Future can be cancelled too.
    const running = new Future<number>((_res, _rej, control) => control.markRunning());
    expect(running.cancel()).toBe(true);
  });
});

suite('test_wait.py', () => {
  it('test_first_completed_some_already_completed', async () => {
    const done1 = Future.from(1);
    await done1;
    const pending = new Future<number>(() => {});
    const result = await wait([done1, pending], { returnWhen: 'FIRST_COMPLETED', timeout: 1000 });
    expect(result.done).toEqual(new Set([done1]));
    expect(result.notDone).toEqual(new Set([pending]));
  });

  it('test_first_exception_some_already_complete', async () => {
    const ok = Future.from(1);
    const bad = new Future<number>((_, reject) => reject(new Error('x')));
    await ok;
    const pending = new Future<number>(() => {});
    const result = await wait([ok, bad, pending], { returnWhen: 'FIRST_EXCEPTION' });
    expect(result.done).toEqual(new Set([ok, bad]));
    expect(result.notDone).toEqual(new Set([pending]));
  });

  it('test_timeout: what is done within the timeout, and the rest', async () => {
    const quick = pool.submit('add', 1, 1);
    const slow = pool.submit('delayed', 1, 2000);
    const result = await wait([quick, slow], { timeout: 500 });
    expect(result.done).toEqual(new Set([quick]));
    expect(result.notDone).toEqual(new Set([slow]));
    slow.cancel();
  });
});

suite('test_as_completed.py', () => {
  it('test_zero_timeout: settled futures are yielded, then TimeoutError', async () => {
    const done = Future.from(1);
    await done;
    const pending = new Future<number>(() => {});
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const c of asCompleted([done, pending], { timeout: 0 })) seen.push(c.future);
      })(),
    ).rejects.toThrow('asCompleted: 1 of 2 still pending after 0 ms');
    expect(seen).toEqual([done]);
  });

  it('test_duplicate_futures: a future given twice is yielded once', async () => {
    const f = Future.from(1);
    const seen = [];
    for await (const c of asCompleted([f, f])) seen.push(c);
    expect(seen.length).toBe(1);
  });

  it('test_no_timeout: Infinity waits as long as it takes', async () => {
    const f = new Future<number>((resolve) => setTimeout(() => resolve(3), 30));
    const values = [];
    for await (const c of asCompleted([f], { timeout: Infinity })) values.push(c.value);
    expect(values).toEqual([3]);
  });
});
