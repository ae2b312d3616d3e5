// The variable table both backends fill through src/lang/bind.ts (evaluate on the CPU, opencl.evaluate):
// the same checks in the same order with the same messages, each naming its own accepted kinds.
import { evaluate, opencl } from 'hotpath';
import { describe, expect, it } from 'vitest';

describe('binding variables (src/lang/bind.ts)', () => {
  it('evaluate: the variables object, each value, one length', () => {
    expect(() => evaluate('a + 1', null as never)).toThrow(
      new TypeError('evaluate: variables must be an object mapping names to typed arrays or numbers, got null'),
    );
    expect(() => evaluate('a + 1', { a: 'x' as never })).toThrow(
      new TypeError("evaluate: variable 'a' must be a Float64Array, Float32Array, Int32Array or number, got string"),
    );
    expect(() => evaluate('a + b', { a: new Float64Array(2), b: new Int32Array(3) })).toThrow(
      new RangeError("evaluate: length mismatch: 'a' has 2 elements but 'b' has 3"),
    );
    expect(evaluate('a * b', { a: new Float32Array([1, 2]), b: 3 })).toEqual(new Float32Array([3, 6]));
    expect(evaluate('a * b', { a: 2, b: 3 })).toEqual(new Float64Array([6])); // all scalars: length 1
  });

  it.runIf(opencl.available())(
    'opencl.evaluate: the same checks, naming Buffers among the accepted kinds',
    async () => {
      await expect(opencl.evaluate('a + 1', [] as never)).rejects.toThrow(
        new TypeError(
          'opencl.evaluate: variables must be an object mapping names to typed arrays, Buffers or numbers, got Array',
        ),
      );
      await expect(opencl.evaluate('a + 1', { a: new Uint8Array(2) as never })).rejects.toThrow(
        new TypeError(
          "opencl.evaluate: variable 'a' must be a Float64Array, Float32Array, Int32Array, a double/float/int Buffer " +
            'or a number, got Uint8Array',
        ),
      );
    },
  );
});
