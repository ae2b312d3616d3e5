// Issue 15 item 12: the pure-TS backend reads typed-array lengths the way the native side does
// (from the view's internal slot: byteLength / BYTES_PER_ELEMENT of the real buffer), so a subclass
// or an own property whose `length` getter lies cannot make a kernel loop past the data. Both
// backends must give the answer for the real 8 elements.
import * as hotpath from 'hotpath';
import { describe, expect, it } from 'vitest';
import { backends } from './helpers';

class LyingFloat64Array extends Float64Array {
  get length(): number {
    return 1e7;
  }
}

function withOwnLyingLength<T extends ArrayBufferView>(array: T): T {
  Object.defineProperty(array, 'length', { get: () => 1e7 });
  return array;
}

describe.each(backends)('issue 15: lying typed-array lengths (%s backend)', (backend) => {
  it('describe and Moments.pushArray count the real elements of a subclass with a lying length getter', () => {
    const x = new LyingFloat64Array(8).fill(2);
    expect(hotpath.describe(x, { backend })).toMatchObject({ nobs: 8, mean: 2, nanCount: 0 });
    expect(new hotpath.Moments({ backend }).pushArray(x).count).toBe(8);
  });

  it('an own length property on a plain Float64Array or Int32Array is ignored too', async () => {
    const x = withOwnLyingLength(new Float64Array(8).fill(3));
    expect(hotpath.describe(x, { backend }).nobs).toBe(8);
    expect((await hotpath.describeAsync(x, { backend })).nobs).toBe(8);
    expect(hotpath.describe(withOwnLyingLength(new Int32Array(8).fill(1)), { backend }).nobs).toBe(8);
  });

  it('evaluate takes n from the real lengths of its inputs and checks `out` the same way', () => {
    const a = new LyingFloat64Array(8).fill(1.5);
    const result = hotpath.evaluate('a * 2', { a }, { backend }) as Float64Array;
    expect(Array.from(result)).toEqual(new Array(8).fill(3));
    const out = withOwnLyingLength(new Float64Array(8));
    expect(hotpath.evaluate('a * 2', { a }, { backend, out })).toBe(out);
    expect(() => hotpath.evaluate('a + b', { a, b: new Float64Array(1e7) }, { backend })).toThrow(RangeError);
  });
});
