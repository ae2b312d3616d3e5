import { describe as suite, expect, it } from 'vitest';
import { AbortError, Future, InvalidStateError, TimeoutError, asCompleted, wait, type Completion } from 'hotpath';

/** A Future plus the hands that settle it, for driving states from the test. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  let signal!: AbortSignal;
  const future = new Future<T>((res, rej, control) => {
    resolve = res;
    reject = rej;
    signal = control.signal;
  });
  return { future, resolve, reject, signal };
}

suite('Future', () => {
  it('is a Promise that reports pending, running and fulfilled states', async () => {
    let markRunning!: () => boolean;
    let resolve!: (v: number) => void;
    const f = new Future<number>((res, _rej, control) => {
      resolve = res;
      markRunning = control.markRunning;
    });
    expect(f).toBeInstanceOf(Promise);
    expect([f.state, f.done, f.running]).toEqual(['pending', false, false]);
    expect(() => f.result()).toThrow(InvalidStateError);
    expect(() => f.exception()).toThrow(InvalidStateError);
    expect(markRunning()).toBe(true);
    expect(f.running).toBe(true);
    resolve(42);
    expect([f.state, f.done, f.running, f.result(), f.exception()]).toEqual(['fulfilled', true, false, 42, undefined]);
    expect(await f).toBe(42);
    expect(markRunning()).toBe(false);
    expect(await Promise.all([f, Future.from(1)])).toEqual([42, 1]);
  });

  it('then() returns a plain Promise and the state follows a thenable it was resolved with', async () => {
    const inner = deferred<string>();
    const outer = Future.from(inner.future);
    const derived = outer.then((v) => v.length);
    expect(derived).not.toBeInstanceOf(Future);
    expect(outer.done).toBe(false);
    inner.resolve('four');
    expect(await derived).toBe(4);
    expect(outer.result()).toBe('four');
  });

  it('keeps a rejection for result()/exception() without an unhandled rejection', async () => {
    const { future, reject } = deferred<number>();
    const error = new RangeError('bad');
    reject(error);
    await new Promise((r) => setTimeout(r, 5));
    expect(future.state).toBe('rejected');
    expect(future.exception()).toBe(error);
    expect(() => future.result()).toThrow(error);
    await expect(future).rejects.toBe(error);
  });

  it('settles once: later resolve/reject calls are ignored', async () => {
    const { future, resolve, reject } = deferred<number>();
    resolve(1);
    reject(new Error('late'));
    resolve(2);
    expect(await future).toBe(1);
  });

  it('cancel() rejects with an AbortError, aborts the producer signal, and is refused once settled', async () => {
    const { future, signal, resolve } = deferred<number>();
    expect(future.cancel('user said so')).toBe(true);
    expect(future.cancelled).toBe(true);
    expect(signal.aborted).toBe(true);
    resolve(5);
    const error = future.exception() as AbortError;
    expect(error).toBeInstanceOf(AbortError);
    expect(error.name).toBe('AbortError');
    expect(error.cause).toBe('user said so');
    expect(future.cancel()).toBe(false);
    const done = Future.from(3);
    await done;
    expect(done.cancel()).toBe(false);
  });

  it('addDoneCallback runs after settling, and right away for a settled future', async () => {
    const { future, resolve } = deferred<number>();
    const seen: string[] = [];
    future.addDoneCallback((f) => seen.push(`a:${f.result()}`));
    resolve(7);
    future.addDoneCallback((f) => seen.push(`b:${f.result()}`));
    await new Promise((r) => setTimeout(r, 0));
    expect(seen).toEqual(['a:7', 'b:7']);
    expect(() => future.addDoneCallback(5 as never)).toThrow(TypeError);
  });

  it('a done-callback that throws is reported as a warning; the process and later callbacks go on', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (const settled of [false, true]) {
        const { future, resolve } = deferred<number>();
        if (settled) resolve(1);
        const seen: string[] = [];
        future.addDoneCallback(() => {
          throw new RangeError(`callback broke (settled: ${settled})`);
        });
        future.addDoneCallback((f) => seen.push(`after:${f.result()}`));
        resolve(1);
        await new Promise((r) => setTimeout(r, 5));
        expect(seen).toEqual(['after:1']);
      }
      expect(warnings.map((w) => [w.name, (w as NodeJS.ErrnoException).code])).toEqual([
        ['HotpathWarning', 'HOTPATH_CALLBACK_ERROR'],
        ['HotpathWarning', 'HOTPATH_CALLBACK_ERROR'],
      ]);
      expect(warnings[0].message).toContain('RangeError: callback broke (settled: false)');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a throwing executor rejects the future', async () => {
    const f = new Future<number>(() => {
      throw new TypeError('boom');
    });
    await expect(f).rejects.toThrow(TypeError);
    expect(() => new Future(null as never)).toThrow(TypeError);
  });
});

suite('asCompleted', () => {
  it('yields each future with its outcome in completion order, each once, failures included', async () => {
    const a = deferred<string>(),
      b = deferred<string>(),
      c = deferred<string>();
    const seen: Completion<Future<string>>[] = [];
    const consumer = (async () => {
      for await (const completion of asCompleted([a.future, b.future, c.future, a.future])) seen.push(completion);
    })();
    c.resolve('c');
    await new Promise((r) => setTimeout(r, 1));
    const failure = new Error('a failed');
    a.reject(failure);
    await new Promise((r) => setTimeout(r, 1));
    b.resolve('b');
    await consumer;
    expect(seen).toEqual([
      { future: c.future, ok: true, value: 'c' },
      { future: a.future, ok: false, error: failure },
      { future: b.future, ok: true, value: 'b' },
    ]);
    expect(seen[0].future).toBe(c.future);
  });

  it('accepts plain promises and throws a TimeoutError when some stay pending', async () => {
    const never = new Promise<number>(() => {});
    const got: number[] = [];
    await expect(async () => {
      for await (const c of asCompleted([Promise.resolve(1), never], { timeout: 20 })) if (c.ok) got.push(c.value);
    }).rejects.toThrow(TimeoutError);
    expect(got).toEqual([1]);
  });

  it('rejects bad arguments', () => {
    expect(() => asCompleted(5 as never)).toThrow(TypeError);
    expect(() => asCompleted([1] as never)).toThrow(/futures\[0\] must be a Future or promise, got number/);
    expect(() => asCompleted([], { timeout: -1 })).toThrow(RangeError);
  });
});

suite('wait', () => {
  it('ALL_COMPLETED waits for all, without rejecting for failures', async () => {
    const a = deferred<number>(),
      b = deferred<number>();
    const pending = wait([a.future, b.future]);
    a.reject(new Error('x'));
    b.resolve(2);
    const { done, notDone } = await pending;
    expect(done).toEqual(new Set([a.future, b.future]));
    expect(notDone.size).toBe(0);
  });

  it('FIRST_COMPLETED returns at the first settlement', async () => {
    const a = deferred<number>(),
      b = deferred<number>();
    const pending = wait([a.future, b.future], { returnWhen: 'FIRST_COMPLETED' });
    b.resolve(2);
    const { done, notDone } = await pending;
    expect([...done]).toEqual([b.future]);
    expect([...notDone]).toEqual([a.future]);
  });

  it('FIRST_EXCEPTION returns at the first failure, or when all are done', async () => {
    const a = deferred<number>(),
      b = deferred<number>(),
      c = deferred<number>();
    const pending = wait([a.future, b.future, c.future], { returnWhen: 'FIRST_EXCEPTION' });
    a.resolve(1);
    await new Promise((r) => setTimeout(r, 1));
    b.reject(new Error('b'));
    const { done, notDone } = await pending;
    expect(done).toEqual(new Set([a.future, b.future]));
    expect([...notDone]).toEqual([c.future]);
    const allOk = await wait([Promise.resolve(1), Promise.resolve(2)], { returnWhen: 'FIRST_EXCEPTION' });
    expect(allOk.done.size).toBe(2);
  });

  it('timeout returns what is done so far; empty input returns at once', async () => {
    const a = deferred<number>();
    const { done, notDone } = await wait([a.future, Promise.resolve(1)], { timeout: 15 });
    expect(done.size).toBe(1);
    expect([...notDone]).toEqual([a.future]);
    expect(await wait([])).toEqual({ done: new Set(), notDone: new Set() });
  });

  it('rejects bad options', () => {
    expect(() => wait([], { returnWhen: 'SOMETIMES' as never })).toThrow(
      /returnWhen must be one of 'FIRST_COMPLETED', 'FIRST_EXCEPTION', 'ALL_COMPLETED'/,
    );
    expect(() => wait([], { timeout: '5' as never })).toThrow(TypeError);
  });
});

suite('wait and asCompleted: issue 16 defects', () => {
  const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

  // CPython test_first_completed_some_already_completed
  it('wait FIRST_COMPLETED puts every already finished future in done (defect 5)', async () => {
    const a = Future.from(1),
      b = Future.from(2);
    await Promise.all([a, b]);
    const pending = deferred<number>();
    const { done, notDone } = await wait([a, b, pending.future], { returnWhen: 'FIRST_COMPLETED' });
    expect(done).toEqual(new Set([a, b]));
    expect(notDone).toEqual(new Set([pending.future]));
    const plain = await wait([Promise.resolve(1), Promise.resolve(2), new Promise(() => {})], {
      returnWhen: 'FIRST_COMPLETED',
    });
    expect(plain.done.size).toBe(2);
  });

  it("asCompleted's timeout message counts the futures still pending (defect 9)", async () => {
    const never = new Promise<number>(() => {});
    const error = await (async () => {
      for await (const _ of asCompleted([Promise.resolve(1), never, new Promise(() => {})], { timeout: 10 }));
    })().catch((e: Error) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toBe('asCompleted: 2 of 3 still pending after 10 ms');
  });

  it('timeout: Infinity, 2^31 ms and more wait instead of firing at once (defect 14)', async () => {
    for (const timeout of [Infinity, 2 ** 31, 2 ** 40]) {
      const { future, resolve } = deferred<number>();
      const waiting = wait([future], { timeout });
      const iteration = asCompleted([future], { timeout })[Symbol.asyncIterator]();
      const next = iteration.next();
      await tick(30);
      resolve(7);
      expect((await waiting).done).toEqual(new Set([future]));
      expect((await next).value).toEqual({ future, ok: true, value: 7 });
    }
    expect(() => wait([], { timeout: NaN })).toThrow(RangeError);
    expect(() => asCompleted([], { timeout: -1 })).toThrow(RangeError);
  });
});
