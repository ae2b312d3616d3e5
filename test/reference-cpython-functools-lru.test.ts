// Cases ported from the lru_cache tests of CPython's Lib/test/test_functools.py (class TestLRU),
// run against hotpath's memoize. Each case names the test it ports; where hotpath deliberately
// differs (docs/api.md), the case says so.
import { describe, expect, it } from 'vitest';
import { memoize } from 'hotpath';

describe('test_functools.py TestLRU', () => {
  it('test_lru: results equal the function, hits + misses count every call, maxsize bounds currsize', () => {
    const orig = (x: number, y: number) => 3 * x + y;
    const domain = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
    for (const maxsize of [0, 10, 20]) {
      const f = memoize(orig, { max: maxsize });
      let state = 42;
      const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
      for (let i = 0; i < 1000; i++) {
        const x = domain[next() % domain.length];
        const y = domain[next() % domain.length];
        expect(f(x, y)).toBe(orig(x, y));
      }
      const info = f.cacheInfo();
      expect(info.hits + info.misses).toBe(1000);
      expect(info.currSize).toBeLessThanOrEqual(maxsize);
      f.cacheClear();
      expect(f.cacheInfo()).toEqual({ hits: 0, misses: 0, maxSize: maxsize, currSize: 0 });
    }
  });

  it('test_lru_no_args: a function without arguments is called once', () => {
    let calls = 0;
    const f = memoize(() => ++calls);
    expect([f(), f(), f()]).toEqual([1, 1, 1]);
    expect(f.cacheInfo()).toEqual({ hits: 2, misses: 1, maxSize: 128, currSize: 1 });
  });

  it('test_lru_with_maxsize_none: unbounded (max: Infinity)', () => {
    const fib = memoize((n: number): number => (n < 2 ? n : fib(n - 1) + fib(n - 2)), { max: Infinity });
    expect(Array.from({ length: 16 }, (_, n) => fib(n))).toEqual([
      0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610,
    ]);
    expect(fib.cacheInfo()).toEqual({ hits: 28, misses: 16, maxSize: Infinity, currSize: 16 });
    fib.cacheClear();
    expect(fib.cacheInfo()).toEqual({ hits: 0, misses: 0, maxSize: Infinity, currSize: 0 });
  });

  it('test_lru_with_maxsize_negative (hotpath: a RangeError, not a 0-sized cache)', () => {
    expect(() => memoize((x: number) => x, { max: -10 })).toThrow(RangeError);
  });

  it('test_lru_with_exceptions: a call that throws is not cached', () => {
    let calls = 0;
    const f = memoize((x: number) => {
      calls++;
      if (x < 0) throw new RangeError('negative');
      return x;
    });
    for (let i = 0; i < 2; i++) expect(() => f(-1)).toThrow(RangeError);
    expect(calls).toBe(2);
    expect(f.cacheInfo().currSize).toBe(0);
  });

  it('test_lru_with_types: typed keeps 3 and "3" apart; untyped shares them', () => {
    const typed = memoize((x: unknown) => typeof x, { typed: true });
    expect([typed(3), typed('3'), typed(3)]).toEqual(['number', 'string', 'number']);
    expect(typed.cacheInfo()).toMatchObject({ hits: 1, misses: 2 });
    const untyped = memoize((x: unknown) => typeof x);
    expect([untyped(3), untyped('3')]).toEqual(['number', 'number']);
  });

  it('test_lru_type_error analogue (hotpath: lists and objects are keyed by value, no unhashable error)', () => {
    const f = memoize((xs: number[]) => xs.reduce((a, b) => a + b, 0));
    expect([f([1, 2]), f([1, 2])]).toEqual([3, 3]);
    expect(f.cacheInfo().hits).toBe(1);
    expect(() => f(Symbol('s') as never)).toThrow(TypeError); // hotpath's unkeyable value
  });

  it('test_lru_cache_parameters', () => {
    const f = memoize((x: number) => x, { max: 1000, typed: true });
    expect(f.cacheParameters()).toMatchObject({ max: 1000, typed: true });
    const g = memoize((x: number) => x, { max: 1000 });
    expect(g.cacheParameters()).toMatchObject({ max: 1000, typed: false });
  });

  it('test_lru_method: a memoized method shared by instances keeps them apart', () => {
    class X {
      constructor(readonly n: number) {}
      f(y: number) {
        return this.n * 10 + y;
      }
    }
    X.prototype.f = memoize(X.prototype.f);
    const a = new X(1);
    const b = new X(2);
    expect([a.f(1), b.f(1), a.f(1), b.f(2)]).toEqual([11, 21, 11, 22]);
    expect((X.prototype.f as unknown as { cacheInfo(): { hits: number; misses: number } }).cacheInfo()).toMatchObject({
      hits: 1,
      misses: 3,
    });
  });

  it('test_lru_cache_decoration / test_lru_cache_wrapped: name, length and the wrapped function', () => {
    function f(a: number, b: number) {
      return a + b;
    }
    const g = memoize(f);
    expect(g.name).toBe('f');
    expect(g.length).toBe(2);
    expect(g.uncached).toBe(f);
    expect(g.uncached(1, 2)).toBe(3);
    expect(g.cacheInfo().misses).toBe(0);
  });

  it('test_lru_star_arg_handling: argument lists of different lengths are different keys', () => {
    const f = memoize((...args: number[]) => args.length);
    expect([f(), f(1), f(1, 2), f(1, 2)]).toEqual([0, 1, 2, 2]);
    expect(f.cacheInfo()).toMatchObject({ hits: 1, misses: 3 });
  });

  it('test_lru_cache_clear / test_lru_with_maxsize_zero analogue: max 0 calls every time', () => {
    let calls = 0;
    const f = memoize(() => ++calls, { max: 0 });
    expect([f(), f()]).toEqual([1, 2]);
    expect(f.cacheInfo()).toEqual({ hits: 0, misses: 2, maxSize: 0, currSize: 0 });
  });
});
