import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { argumentsKey, memoize } from 'hotpath';
import { repoRoot, rng } from './helpers.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function counting<A extends unknown[], R>(fn: (...args: A) => R) {
  const calls: A[] = [];
  const wrapped = (...args: A) => {
    calls.push(args);
    return fn(...args);
  };
  return { calls, wrapped };
}

describe('memoize: sync functions', () => {
  it('returns the same results as the function on random arguments and counts hits and misses', () => {
    const r = rng(10);
    const { calls, wrapped } = counting((a: number, b: number) => a * 1000 + b);
    const memo = memoize(wrapped, { max: 1000 });
    const distinct = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const a = Math.floor(r() * 20);
      const b = Math.floor(r() * 20);
      distinct.add(`${a},${b}`);
      expect(memo(a, b)).toBe(a * 1000 + b);
    }
    expect(calls.length).toBe(distinct.size);
    expect(memo.cacheInfo()).toEqual({
      hits: 2000 - distinct.size,
      misses: distinct.size,
      maxSize: 1000,
      currSize: distinct.size,
    });
    memo.cacheClear();
    expect(memo.cacheInfo()).toEqual({ hits: 0, misses: 0, maxSize: 1000, currSize: 0 });
  });

  it('evicts the least recently used entry beyond max (default 128)', () => {
    const { calls, wrapped } = counting((x: number) => x + 1);
    const memo = memoize(wrapped, { max: 2 });
    memo(1);
    memo(2);
    memo(1); // 2 is now the least recently used
    memo(3);
    expect([...memo.cache.keys()].sort()).toEqual([argumentsKey([1]), argumentsKey([3])].sort());
    memo(2);
    expect(calls.map(([x]) => x)).toEqual([1, 2, 3, 2]);
    expect(memoize((x: number) => x).cacheInfo().maxSize).toBe(128);
  });

  it('caches undefined and null results, and expires entries after ttl', async () => {
    const { calls, wrapped } = counting((x: number) => (x === 0 ? undefined : x === 1 ? null : x));
    const memo = memoize(wrapped, { ttl: 30 });
    expect([memo(0), memo(0), memo(1), memo(1)]).toEqual([undefined, undefined, null, null]);
    expect(calls.length).toBe(2);
    await sleep(60);
    expect(memo(0)).toBeUndefined();
    expect(calls.length).toBe(3);
  });

  it('keys typed arrays and views by content, plain objects whatever their key order', () => {
    const { calls, wrapped } = counting((v: Float64Array | Record<string, unknown>) => v);
    const memo = memoize(wrapped);
    const big = new Float64Array(1000).map((_, i) => i / 3);
    memo(big);
    memo(Float64Array.from(big));
    memo(new Float64Array([0, ...big]).subarray(1));
    expect(calls.length).toBe(1);
    memo(new Float32Array(big)); // other element type: other entry
    const changed = Float64Array.from(big);
    changed[999] = -1;
    memo(changed);
    expect(calls.length).toBe(3);
    memo({ a: 1, b: [1, 2, { c: 'x' }] });
    memo({ b: [1, 2, { c: 'x' }], a: 1 });
    expect(calls.length).toBe(4);
    memo({ a: 1, b: [1, 2, { c: 'y' }] });
    expect(calls.length).toBe(5);
  });

  it('merges 1 and "1" unless typed, and keys functions and class instances by identity', () => {
    const untyped = counting((x: unknown) => typeof x);
    const merged = memoize(untyped.wrapped);
    expect([merged(1), merged('1')]).toEqual(['number', 'number']);
    const typed = counting((x: unknown) => typeof x);
    const separate = memoize(typed.wrapped, { typed: true });
    expect([separate(1), separate('1'), separate(1n), separate(1)]).toEqual(['number', 'string', 'bigint', 'number']);
    expect(argumentsKey([1, 'a'], true)).not.toBe(argumentsKey(['1', 'a'], true));
    expect(
      argumentsKey([
        new Map([
          [1, 'a'],
          [2, 'b'],
        ]),
      ]),
    ).toBe(
      argumentsKey([
        new Map([
          [2, 'b'],
          [1, 'a'],
        ]),
      ]),
    );
    expect(argumentsKey([new Set([1, 2])])).toBe(argumentsKey([new Set([2, 1])]));
    expect(argumentsKey([new Date(5)])).not.toBe(argumentsKey([new Date(6)]));
    class Point {}
    const p = new Point();
    expect(argumentsKey([p])).toBe(argumentsKey([p]));
    expect(argumentsKey([p])).not.toBe(argumentsKey([new Point()]));
    const f = () => 1;
    expect(argumentsKey([f])).not.toBe(argumentsKey([() => 1]));
    expect(argumentsKey(['a,b'])).not.toBe(argumentsKey(['a', 'b']));
    expect(argumentsKey([])).toBe('');
  });

  it('uses a custom key function with the call this', () => {
    const memo = memoize((user: { id: number; name: string }) => user.name.toUpperCase(), {
      key: (user) => String(user.id),
    });
    expect(memo({ id: 1, name: 'ada' })).toBe('ADA');
    expect(memo({ id: 1, name: 'changed' })).toBe('ADA');
    const bad = memoize((x: number) => x, { key: () => 5 as unknown as string });
    expect(() => bad(1)).toThrow(/options.key must return a string, got number/);
  });

  it('rejects arguments without a stable key and bad options', () => {
    const memo = memoize((x: unknown) => x);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => memo(cyclic)).toThrow(TypeError);
    expect(() => memo(cyclic)).toThrow(/circular argument/);
    expect(() => memo(Symbol('s'))).toThrow(/symbol argument/);
    expect(() => memoize((x: number) => x, { max: -1 })).toThrow(/memoize: max must be an integer >= 0, got -1/);
    expect(() => memoize((x: number) => x, { max: NaN })).toThrow(RangeError);
    expect(() => memoize((x: number) => x, { maxsize: 3 } as never)).toThrow(/memoize: unknown option 'maxsize'/);
    expect(() => memoize((x: number) => x, { ttl: '5' as unknown as number })).toThrow(
      /ttl must be a number, got string/,
    );
    expect(() => memoize((x: number) => x, { maxSize: 10 })).toThrow(/maxSize needs a sizeCalculation/);
    expect(() => memoize((x: number) => x, { staleWhileRevalidate: true })).toThrow(/staleWhileRevalidate needs a ttl/);
    expect(() => memoize((x: number) => x, { typed: 1 as unknown as boolean })).toThrow(/typed must be a boolean/);
    expect(() => memoize((x: number) => x, [] as unknown as object)).toThrow(/options must be an object, got Array/);
  });

  it('bounds the total size with maxSize and sizeCalculation', () => {
    const memo = memoize((n: number) => 'x'.repeat(n), { maxSize: 10, sizeCalculation: (s) => s.length });
    memo(4);
    memo(4);
    memo(5);
    memo(3); // 4 + 5 + 3 > 10: the least recently used (4) goes
    expect(memo.cache.calculatedSize).toBeLessThanOrEqual(10);
    expect(memo.cache.has(argumentsKey([4]))).toBe(false);
    expect(memo.cacheInfo()).toMatchObject({ hits: 1, misses: 3, currSize: 2 });
  });
});

describe('memoize: async functions', () => {
  it('shares one in-flight promise between concurrent calls with the same key', async () => {
    const { calls, wrapped } = counting(async (x: number) => {
      await sleep(10);
      return x * 2;
    });
    const memo = memoize(wrapped);
    const results = await Promise.all([...Array(10)].map(() => memo(21)));
    expect(results).toEqual(Array(10).fill(42));
    expect(calls.length).toBe(1);
    expect(memo.cacheInfo()).toMatchObject({ hits: 9, misses: 1 });
    expect(await memo(21)).toBe(42);
    expect(calls.length).toBe(1);
  });

  it('does not cache a rejection, unless errorTtl keeps it briefly', async () => {
    let fail = true;
    const { calls, wrapped } = counting(async (x: number) => {
      if (fail) throw new Error(`boom ${x}`);
      return x;
    });
    const memo = memoize(wrapped);
    await expect(memo(1)).rejects.toThrow('boom 1');
    fail = false;
    expect(await memo(1)).toBe(1);
    expect(calls.length).toBe(2);

    fail = true;
    const withErrorTtl = memoize(wrapped, { errorTtl: 200 });
    await expect(withErrorTtl(2)).rejects.toThrow('boom 2');
    fail = false;
    await expect(withErrorTtl(2)).rejects.toThrow('boom 2'); // still the cached failure
    expect(calls.length).toBe(3);
    await sleep(300);
    expect(await withErrorTtl(2)).toBe(2);
    expect(calls.length).toBe(4);
  });

  it('sizes a promise by its resolved value', async () => {
    const memo = memoize(async (n: number) => new Uint8Array(n), {
      maxSize: 100,
      sizeCalculation: (bytes) => bytes.length,
    });
    await memo(60);
    await memo(30);
    await sleep(0);
    expect(memo.cache.calculatedSize).toBe(90);
    await memo(50);
    await sleep(0);
    expect(memo.cache.calculatedSize).toBeLessThanOrEqual(100);
    expect(memo.cache.has(argumentsKey([60]))).toBe(false);
  });

  it('staleWhileRevalidate serves the stale value at once and refreshes it in the background', async () => {
    let version = 0;
    let finished = 0;
    const { calls, wrapped } = counting(async (name: string) => {
      await sleep(5);
      finished++;
      return `${name} v${++version}`;
    });
    const memo = memoize(wrapped, { ttl: 300, staleWhileRevalidate: true });
    expect(await memo('doc')).toBe('doc v1');
    expect(await memo('doc')).toBe('doc v1');
    await sleep(350);
    expect(await memo('doc')).toBe('doc v1'); // stale, refresh started
    for (let i = 0; i < 400 && finished < 2; i++) await sleep(5);
    await new Promise((resolve) => setImmediate(resolve)); // lru-cache stores the value in a later microtask
    expect(await memo('doc')).toBe('doc v2');
    expect(calls.length).toBe(2);
    expect(memo.cacheInfo()).toMatchObject({ hits: 3, misses: 1 });
    expect(await memoize(async () => undefined, { ttl: 100, staleWhileRevalidate: true })()).toBeUndefined();
  });
});

describe('@memoize() standard decorator (compiled by TypeScript)', () => {
  const fixture = path.join(repoRoot, 'test', 'fixtures', 'memoize-decorated.ts');

  function compileFixture(): Record<string, unknown> {
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
    };
    const diagnostics = ts.getPreEmitDiagnostics(ts.createProgram([fixture], options));
    expect(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
    const js = ts.transpileModule(fs.readFileSync(fixture, 'utf8'), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS },
    }).outputText;
    const module = { exports: {} as Record<string, unknown> };
    new Function('require', 'module', 'exports', js)(createRequire(fixture), module, module.exports);
    return module.exports;
  }

  it('caches per instance, binds this, and exposes cacheInfo on the instance method', () => {
    const { Geometry, cacheOf } = compileFixture() as {
      Geometry: {
        new (scale: number): { calls: number; area(w: number, h: number): number };
        describe(name: string): string;
      };
      cacheOf: (m: unknown) => { cacheInfo(): { hits: number; misses: number; maxSize: number } };
    };
    const a = new Geometry(1);
    const b = new Geometry(10);
    expect([a.area(2, 3), a.area(2, 3), b.area(2, 3)]).toEqual([6, 6, 60]);
    expect([a.calls, b.calls]).toEqual([1, 1]);
    const { area } = a;
    expect(area(2, 3)).toBe(6);
    expect(cacheOf(a.area).cacheInfo()).toMatchObject({ hits: 2, misses: 1, maxSize: 2 });
    expect(cacheOf(b.area).cacheInfo()).toMatchObject({ hits: 0, misses: 1 });
    expect(Geometry.describe('x')).toBe('x!');
    expect(Geometry.describe('x')).toBe('x!');
    expect(cacheOf(Geometry.describe).cacheInfo()).toMatchObject({ hits: 1, misses: 1 });
  });

  it('refuses fields and private methods with a TypeError', () => {
    const decorate = memoize();
    const fieldContext = { kind: 'field', name: 'x' } as unknown as ClassMethodDecoratorContext;
    expect(() => decorate(() => 1, fieldContext)).toThrow(/@memoize\(\) decorates methods, got field/);
    const privateContext = { kind: 'method', name: '#m', private: true } as unknown as ClassMethodDecoratorContext;
    expect(() => decorate(() => 1, privateContext)).toThrow(/cannot decorate the private method #m/);
    expect(() => memoize({ max: -1 })).toThrow(RangeError);
  });
});

describe('memoize: issue 16 defects and Python semantics', () => {
  it('a method shared between instances is keyed by its receiver too (defect 4)', () => {
    class X {
      constructor(readonly base: number) {}
      f(y: number) {
        return this.base * this.base + y;
      }
    }
    X.prototype.f = memoize(X.prototype.f);
    const five = new X(5);
    const seven = new X(7);
    expect(five.f(2)).toBe(27);
    expect(seven.f(2)).toBe(51);
    expect(five.f(2)).toBe(27);
    expect((X.prototype.f as ReturnType<typeof memoize>).cacheInfo()).toMatchObject({ hits: 1, misses: 2 });
  });

  it('keeps the wrapped function name and length (defect 13, functools.update_wrapper)', () => {
    function area(width: number, height: number) {
      return width * height;
    }
    const memo = memoize(area);
    expect([memo.name, memo.length]).toEqual(['area', 2]);
    expect(memo.uncached).toBe(area);
  });

  it('max: Infinity is unbounded, max: 0 caches nothing (test_functools lru_cache maxsize=None / maxsize=0)', () => {
    const { calls, wrapped } = counting((x: number) => x * 2);
    const unbounded = memoize(wrapped, { max: Infinity });
    for (let i = 0; i < 1000; i++) unbounded(i);
    for (let i = 0; i < 1000; i++) unbounded(i);
    expect(calls.length).toBe(1000);
    expect(unbounded.cacheInfo()).toEqual({ hits: 1000, misses: 1000, maxSize: Infinity, currSize: 1000 });
    const none = memoize(wrapped, { max: 0 });
    expect([none(1), none(1)]).toEqual([2, 2]);
    expect(calls.length).toBe(1002);
    expect(none.cacheInfo()).toEqual({ hits: 0, misses: 2, maxSize: 0, currSize: 0 });
  });

  it('cacheParameters() and uncached() (cache_parameters, __wrapped__)', () => {
    const { calls, wrapped } = counting((x: number) => x + 1);
    const memo = memoize(wrapped, { max: 3, typed: true });
    expect(memo.cacheParameters()).toEqual({
      max: 3,
      maxSize: undefined,
      ttl: undefined,
      typed: true,
      errorTtl: undefined,
      staleWhileRevalidate: false,
    });
    memo(1);
    expect(memo.uncached(1)).toBe(2);
    expect(calls.length).toBe(2);
    expect(memo.cacheInfo()).toMatchObject({ hits: 0, misses: 1 });
  });
});
