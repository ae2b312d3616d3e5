// Binding glue: runs the C++ moments kernel and converts its flat Float64Array result.
import { requireNative } from '../core/loader.js';
import type { FloatArray } from '../core/validate.js';
import type { NanPolicyCode, Partial } from './kernel.js';

function fromFields(f: Float64Array): Partial {
  return { n: f[0], shift: f[1], mean: f[2], m2: f[3], m3: f[4], m4: f[5], min: f[6], max: f[7], nanCount: f[8] };
}

// Native messages do not know which public function called them; prefix it like the TS twin does.
function withCaller(where: string, error: unknown): unknown {
  if (error instanceof RangeError || error instanceof TypeError) {
    const Ctor = error instanceof RangeError ? RangeError : TypeError;
    return new Ctor(`${where}: ${error.message}`);
  }
  return error;
}

export function accumulateNative(values: FloatArray, policy: NanPolicyCode, where: string): Partial {
  try {
    return fromFields(requireNative().momentsPartial(values, policy));
  } catch (error) {
    throw withCaller(where, error);
  }
}

export async function accumulateNativeAsync(
  values: FloatArray,
  policy: NanPolicyCode,
  threads: number,
  where: string,
): Promise<Partial> {
  try {
    return fromFields(await requireNative().momentsPartialAsync(values, policy, threads));
  } catch (error) {
    throw withCaller(where, error);
  }
}
