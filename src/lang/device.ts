// The expression language's door to a device. expr/ runs parsed trees on OpenCL (Program.runOpenCL,
// vectorize with target 'opencl') without loading opencl/ itself — sibling capabilities never import each
// other's internals: opencl/ registers its evaluator here when it loads, which the package entry point
// always does before any expression can reach a device.
import type { Node } from './ast.js';

/** Runs one parsed expression on a device: the evaluator's own variable, option and result types. */
export type DeviceEvaluator = (
  where: string,
  source: string,
  root: Node,
  vars: never,
  options?: never,
) => Promise<unknown>;

let registered: DeviceEvaluator | null = null;

export function registerDeviceEvaluator(evaluator: DeviceEvaluator): void {
  registered = evaluator;
}

/** The registered evaluator, or an Error naming the caller when the OpenCL layer was never loaded. */
export function deviceEvaluator(where: string): DeviceEvaluator {
  if (registered === null) throw new Error(`${where}: the OpenCL layer (hotpath's opencl module) is not loaded`);
  return registered;
}
