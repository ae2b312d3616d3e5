// Binds a compiled expression's variables to the caller's values, the same way for every backend
// (the CPU evaluate and opencl.evaluate): each variable must be present (else an ExpressionError
// pointing at its first use), each value of a kind the backend takes, and all arrays one length.
// What a backend takes and how it names a rejected value come in as rules.
import { trueLength, typeName } from '../core/validate.js';

/** How a value enters a program: a float64, float32 or int32 array, or a scalar number. */
export type InputCode = 'd' | 'f' | 'i' | 's';

/** The input code of a number or of a Float64Array, Float32Array or Int32Array; null for anything else. */
export function arrayInputCode(value: unknown): InputCode | null {
  if (typeof value === 'number') return 's';
  if (value instanceof Float64Array) return 'd';
  if (value instanceof Float32Array) return 'f';
  if (value instanceof Int32Array) return 'i';
  return null;
}

export interface BindingRules {
  /** What the variables object maps names to, for its TypeError: 'typed arrays or numbers'. */
  mapsTo: string;
  /** What one variable must be, for its TypeError: 'a Float64Array, Float32Array, Int32Array or number'. */
  expected: string;
  /** A value's input code; null when this backend cannot take it. */
  inputCode(value: unknown): InputCode | null;
  /** How a rejected value is named in the message. Default: its type name. */
  describe?(value: unknown): string;
  /** The error for a variable the object lacks (an ExpressionError at the variable's first use). */
  unknownVariable(name: string): Error;
  /** Further checks of an accepted value (opencl: the Buffer's device). */
  check?(name: string, value: unknown): void;
}

export interface BoundVariables {
  /** The values in the program's input order. */
  values: unknown[];
  codes: InputCode[];
  /** The arrays' common length, 1 when every input is a scalar. */
  n: number;
  anyArray: boolean;
  /** Every array input is a Float32Array (vacuously true without arrays). */
  allFloat32: boolean;
}

/** Orders and checks `vars` for the program inputs `names`. */
export function bindVariables(
  where: string,
  names: readonly string[],
  vars: unknown,
  rules: BindingRules,
): BoundVariables {
  if (vars === null || typeof vars !== 'object' || Array.isArray(vars)) {
    throw new TypeError(
      `${where}: variables must be an object mapping names to ${rules.mapsTo}, got ${typeName(vars)}`,
    );
  }
  const record = vars as Record<string, unknown>;
  const values: unknown[] = [];
  const codes: InputCode[] = [];
  let lengthFrom: string | null = null;
  let n = 1;
  let allFloat32 = true;
  for (const name of names) {
    if (!Object.prototype.hasOwnProperty.call(record, name)) throw rules.unknownVariable(name);
    const value = record[name];
    const code = rules.inputCode(value);
    if (code === null) {
      const got = rules.describe ? rules.describe(value) : typeName(value);
      throw new TypeError(`${where}: variable '${name}' must be ${rules.expected}, got ${got}`);
    }
    rules.check?.(name, value);
    if (code !== 's') {
      // A typed array's own length, not a `length` property a subclass or proxy could fake.
      const length = ArrayBuffer.isView(value) ? trueLength(value) : (value as { length: number }).length;
      if (lengthFrom === null) {
        lengthFrom = name;
        n = length;
      } else if (length !== n) {
        throw new RangeError(
          `${where}: length mismatch: '${lengthFrom}' has ${n} elements but '${name}' has ${length}`,
        );
      }
      allFloat32 &&= code === 'f';
    }
    values.push(value);
    codes.push(code);
  }
  return { values, codes, n, anyArray: lengthFrom !== null, allFloat32 };
}
