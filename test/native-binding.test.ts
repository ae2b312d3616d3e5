import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { nativePath } from 'hotpath';

// The raw addon must validate everything itself: a wrong argument is a JS error, never an abort.
const addon = nativePath ? createRequire(__filename)(nativePath) : null;

describe.runIf(addon)('native binding argument checks', () => {
  it('rejects wrong types and values with TypeError/RangeError', async () => {
    expect(() => addon.momentsPartial()).toThrow(TypeError);
    expect(() => addon.momentsPartial('abc', 0)).toThrow(/values must be a Float64Array or Float32Array/);
    expect(() => addon.momentsPartial(new Int32Array(4), 0)).toThrow(TypeError);
    expect(() => addon.momentsPartial(new Float64Array(4), 7)).toThrow(RangeError);
    expect(() => addon.momentsPartial(new Float64Array(4), '0')).toThrow(TypeError);
    expect(() => addon.momentsPartialAsync(new Float64Array(4), 0, 0)).toThrow(RangeError);
    expect(() => addon.floatSum(new Float32Array(4))).toThrow(TypeError);
    const detached = new Float64Array(16);
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    expect(addon.momentsPartial(detached, 0)[0]).toBe(0);
    await expect(addon.momentsPartialAsync(new Float64Array([1, NaN]), 2, 2)).rejects.toThrow(RangeError);
  });

  // One typed-array reader (native/common/typed_array.h) serves every binding: a view at a byte offset and one
  // backed by a SharedArrayBuffer read exactly their own elements, synchronously and in async work alike.
  it('reads views at a byte offset and SharedArrayBuffer-backed arrays, sync and async', async () => {
    const values = Float64Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const shared = new Float64Array(new SharedArrayBuffer(1003 * 8)).subarray(3);
    shared.set(values);
    const offset = new Float64Array(1002).subarray(2);
    offset.set(values);
    const expected = addon.momentsPartial(values, 0);
    for (const view of [shared, offset]) {
      expect(addon.momentsPartial(view, 0)).toEqual(expected);
      expect(await addon.momentsPartialAsync(view, 0, 2)).toEqual(expected);
      expect(addon.floatSum(view)).toBe(addon.floatSum(values));
    }
    expect(() => addon.exprEvaluate('code')).toThrow(/^code must be an Int32Array$/);
    expect(() => addon.exprEvaluate(new Int32Array(0), new Float32Array(0))).toThrow(
      /^constants must be a Float64Array$/,
    );
  });
});
