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
});
