// PyOpenCL-style kernels from C snippets: ElementwiseKernel (an operation per index i) and
// ReductionKernel (map each i, fold with a reduce expression). Both wrap the snippet in a generated
// grid-stride kernel, build it on first use, and check buffer lengths before enqueueing.
import { checkOptions, typeName } from '../core/validate.js';
import { Buffer, type Context, type Kernel, type KernelArgument, type Program } from './runtime.js';
import { scalarArrays, scalarType, type ScalarType } from './types.js';

/** One parameter of a snippet kernel, parsed from a declaration such as 'const float *x'. */
export interface SnippetParameter {
  name: string;
  /** The scalar element type (pointers) or the scalar's type; vectors and structs keep their C name. */
  type: string;
  pointer: boolean;
}

const identifier = /^[A-Za-z_]\w*$/;

/** Parses 'float a, const float *x, double* y' (the PyOpenCL `arguments` string). */
export function parseParameters(where: string, declarations: string): SnippetParameter[] {
  if (typeof declarations !== 'string')
    throw new TypeError(`${where}: arguments must be a string, got ${typeName(declarations)}`);
  const params = declarations.split(',').map((declaration, position) => {
    const match = /^(.*?)(\*?)\s*([A-Za-z_]\w*)$/s.exec(declaration.replace(/\*/g, ' * ').trim());
    const baseType = match?.[1]
      .replace(/\b(const|restrict|__global|global|__constant|constant)\b/g, '')
      .trim()
      .replace(/\s+/g, ' ');
    const knownShape =
      baseType !== undefined &&
      (scalarType(baseType) !== undefined || /^(struct |union )?[A-Za-z_]\w*$/.test(baseType));
    if (!match || !knownShape)
      throw new SyntaxError(
        `${where}: cannot parse argument ${position} '${declaration.trim()}' (expected 'type name' or 'type *name')`,
      );
    const pointer = match[2] === '*';
    const scalar = scalarType(baseType as string);
    if (pointer && !scalar)
      throw new TypeError(
        `${where}: argument '${match[3]}' must point to a scalar type (float, int, ...), got ${baseType}`,
      );
    return { name: match[3], type: scalar ?? (baseType as string), pointer };
  });
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p.name)) throw new SyntaxError(`${where}: argument name '${p.name}' is used twice`);
    if (p.name === 'i' || p.name === 'n')
      throw new SyntaxError(`${where}: 'i' and 'n' are the index and the element count; rename argument '${p.name}'`);
    seen.add(p.name);
  }
  return params;
}

function declare(p: SnippetParameter): string {
  return p.pointer ? `__global ${p.type} *${p.name}` : `const ${p.type} ${p.name}`;
}

function usesDouble(params: SnippetParameter[], extraTypes: string[]): boolean {
  return [...params.map((p) => p.type), ...extraTypes].some((t) => /\bdouble\d*\b/.test(t));
}

export interface SnippetOptions {
  /** Kernel function name. */
  name?: string;
  /** OpenCL C placed before the kernel (helper functions, #defines). */
  preamble?: string;
  /** Compiler options, as for Context.program(). */
  options?: string | readonly string[];
}

/**
 * Pointer arguments, per kernel, that its snippet indexes by its own arithmetic rather than by i (opencl.evaluate's
 * strided and broadcast inputs): bind() does not require their Buffers to hold n elements, the caller checks
 * every read they make. Internal to opencl/ (not exported from the package).
 */
const selfIndexed = new WeakMap<SnippetKernel, ReadonlySet<string>>();

export function markSelfIndexed(kernel: SnippetKernel, names: readonly string[]): void {
  selfIndexed.set(kernel, new Set(names));
}

/** Builds a generated program once, on first use, and remembers its kernels. */
export abstract class SnippetKernel {
  readonly context: Context;
  readonly parameters: readonly SnippetParameter[];
  readonly name: string;
  /** The generated OpenCL C source. */
  readonly source: string;
  #program: Promise<{ program: Program; kernels: Kernel[] }> | undefined;
  readonly #compilerOptions: string | readonly string[];
  readonly #kernelNames: string[];
  readonly #running = new Set<Promise<unknown>>();
  protected abstract readonly where: string;

  protected constructor(
    where: string,
    context: Context,
    declarations: string,
    options: SnippetOptions | undefined,
    extraTypes: string[],
    generate: (params: SnippetParameter[], name: string, preamble: string) => { source: string; kernels: string[] },
  ) {
    const opts = checkOptions(where, options);
    const name = opts.name ?? 'hotpath_kernel';
    if (typeof name !== 'string' || !identifier.test(name))
      throw new TypeError(`${where}: name must be a C identifier, got ${String(name)}`);
    const preamble = opts.preamble ?? '';
    if (typeof preamble !== 'string')
      throw new TypeError(`${where}: preamble must be a string, got ${typeName(preamble)}`);
    this.context = context;
    this.parameters = Object.freeze(parseParameters(where, declarations));
    this.name = name;
    const double = usesDouble([...this.parameters], extraTypes);
    if (double && !context.device.fp64)
      throw new Error(`${where}: ${context.device.name} has no double precision (cl_khr_fp64)`);
    const fp64 = double ? '#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n' : '';
    const generated = generate([...this.parameters], name, `${fp64}${preamble}`);
    this.source = generated.source;
    this.#kernelNames = generated.kernels;
    this.#compilerOptions = (opts.options as string | readonly string[] | undefined) ?? '';
  }

  /** Builds the program now (run() does it on first use); rejects with a BuildError on a bad snippet. */
  async build(): Promise<void> {
    await this.#kernels();
  }

  /**
   * Frees the built program and kernels (GC would otherwise) once the runs already started have
   * finished; a later run() builds again.
   */
  release(): void {
    const built = this.#program;
    this.#program = undefined;
    void Promise.allSettled([...this.#running]).then(() =>
      built?.then(
        ({ program, kernels }) => [...kernels, program].forEach((o) => o.release()),
        () => undefined, // a failed build holds nothing
      ),
    );
  }

  /** Runs `work` on the built kernels; release() waits for it. */
  protected withKernels<T>(work: (kernels: Kernel[]) => Promise<T>): Promise<T> {
    const running = this.#kernels().then(work);
    this.#running.add(running);
    const done = () => this.#running.delete(running);
    running.then(done, done);
    return running;
  }

  #kernels(): Promise<Kernel[]> {
    if (!this.#program) {
      const building = this.context.program(this.source, { options: this.#compilerOptions }).then((program) => ({
        program,
        kernels: this.#kernelNames.map((k) => program.kernel(k)),
      }));
      // A failed build is not cached: the next call reports it again instead of a stale rejection.
      building.catch(() => {
        if (this.#program === building) this.#program = undefined;
      });
      this.#program = building;
    }
    return this.#program.then((p) => p.kernels);
  }

  /** Element count and encoded arguments, checking that every buffer holds at least n elements. */
  protected bind(args: unknown, options: unknown): { n: number; values: KernelArgument[] } {
    const where = this.where;
    if (!Array.isArray(args)) throw new TypeError(`${where}: args must be an array, got ${typeName(args)}`);
    if (args.length !== this.parameters.length) {
      throw new TypeError(
        `${where}: expected ${this.parameters.length} arguments ` +
          `(${this.parameters.map((p) => p.name).join(', ')}), got ${args.length}`,
      );
    }
    const lengths = this.parameters.map((p, i) => {
      const value: unknown = args[i];
      if (p.pointer !== value instanceof Buffer) {
        throw new TypeError(
          `${where}: argument '${p.name}' must be ${p.pointer ? 'a Buffer' : 'a scalar'}, got ${typeName(value)}`,
        );
      }
      return value instanceof Buffer
        ? Math.floor(value.byteLength / scalarArrays[p.type as ScalarType].BYTES_PER_ELEMENT)
        : undefined;
    });
    const opts = checkOptions(where, options);
    const n = opts.n ?? lengths.find((length) => length !== undefined);
    if (n === undefined) throw new TypeError(`${where}: without a Buffer argument, pass { n } (the element count)`);
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
      throw new RangeError(`${where}: n must be an integer >= 0, got ${String(n)}`);
    const unchecked = selfIndexed.get(this);
    lengths.forEach((length, i) => {
      const p = this.parameters[i];
      if (length !== undefined && length < n && !unchecked?.has(p.name)) {
        throw new RangeError(
          `${where}: Buffer '${p.name}' holds ${length} ${p.type} elements, fewer than the global size n = ${n}`,
        );
      }
    });
    return { n, values: args as KernelArgument[] };
  }

  /** Work-items for a grid-stride loop over n: enough to fill the device, never more than n. */
  protected globalSize(n: number, groupSize = 1): number {
    const device = this.context.device;
    const fill = device.computeUnits * Math.min(device.maxWorkGroupSize, 1024) * 4;
    return Math.max(groupSize, Math.ceil(Math.min(n, fill) / groupSize) * groupSize);
  }
}

/**
 * PyOpenCL's ElementwiseKernel: `operation` runs for every index i < n, e.g.
 * `new ElementwiseKernel(ctx, 'float a, float *x, float *y', 'y[i] = a * x[i]')`.
 */
export class ElementwiseKernel extends SnippetKernel {
  protected readonly where = 'ElementwiseKernel.run';

  constructor(context: Context, declarations: string, operation: string, options?: SnippetOptions) {
    if (typeof operation !== 'string')
      throw new TypeError(`ElementwiseKernel: operation must be a string, got ${typeName(operation)}`);
    super('ElementwiseKernel', context, declarations, options, [], (params, name, preamble) => ({
      source: `${preamble}
__kernel void ${name}(${[...params.map(declare), 'const ulong n'].join(', ')}) {
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {
    ${operation};
  }
}
`,
      kernels: [name],
    }));
  }

  /** Runs over n elements (default: the first Buffer's length); resolves when the device is done. */
  async run(args: readonly KernelArgument[], options?: { n?: number }): Promise<void> {
    const { n, values } = this.bind(args, options);
    return this.withKernels(async ([kernel]) => {
      if (n > 0) await kernel.run({ global: this.globalSize(n), args: [...values, BigInt(n)] });
    });
  }
}

export interface ReductionOptions extends SnippetOptions {
  /** Result type (an OpenCL C scalar type). */
  type: ScalarType;
  /** The identity of `reduce`, as C: '0', 'INFINITY', '-FLT_MAX'. */
  neutral: string;
  /** Combines two partial results `a` and `b`, e.g. 'a + b' or 'fmax(a, b)'. */
  reduce: string;
  /** The value for index i, e.g. 'x[i] * y[i]'. */
  map: string;
  /** Parameter declarations, as for ElementwiseKernel. */
  arguments: string;
}

/**
 * PyOpenCL's ReductionKernel: folds map(i) for i < n with `reduce` from `neutral`. Two stages:
 * work-groups fold grid-stride ranges into partials in __local memory, then one group folds those.
 * Floating-point results depend on that order (not sequential order): use an exact reduce to compare.
 */
export class ReductionKernel extends SnippetKernel {
  protected readonly where = 'ReductionKernel.run';
  readonly type: ScalarType;

  constructor(context: Context, options: ReductionOptions) {
    const where = 'ReductionKernel';
    const opts = checkOptions(where, options) as Partial<ReductionOptions>;
    const type = opts.type;
    if (typeof type !== 'string' || !(type in scalarArrays)) {
      throw new TypeError(`${where}: type must be one of ${Object.keys(scalarArrays).join(', ')}, got ${String(type)}`);
    }
    for (const key of ['neutral', 'reduce', 'map', 'arguments'] as const) {
      if (typeof opts[key] !== 'string')
        throw new TypeError(`${where}: ${key} must be a string, got ${typeName(opts[key])}`);
    }
    const { neutral, reduce, map } = opts as ReductionOptions;
    super(where, context, opts.arguments as string, opts, [type], (params, name, preamble) => ({
      source: `${preamble}
typedef ${type} hotpath_out_t;
inline hotpath_out_t hotpath_reduce(hotpath_out_t a, hotpath_out_t b) { return (${reduce}); }

// Folds each work-item's value into scratch[0] (a power-of-two tree); the caller's group writes it.
inline hotpath_out_t hotpath_group_fold(hotpath_out_t value, __local hotpath_out_t *scratch) {
  const size_t lid = get_local_id(0);
  scratch[lid] = value;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (size_t stride = get_local_size(0) / 2; stride > 0; stride >>= 1) {
    if (lid < stride) scratch[lid] = hotpath_reduce(scratch[lid], scratch[lid + stride]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  return scratch[0];
}

__kernel void ${name}_stage1(${[
        ...params.map(declare),
        'const ulong n',
        '__global hotpath_out_t *partials',
        '__local hotpath_out_t *scratch',
      ].join(', ')}) {
  hotpath_out_t acc = (${neutral});
  for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) acc = hotpath_reduce(acc, (${map}));
  const hotpath_out_t total = hotpath_group_fold(acc, scratch);
  if (get_local_id(0) == 0) partials[get_group_id(0)] = total;
}

__kernel void ${name}_stage2(__global const hotpath_out_t *partials, const ulong n,
                              __global hotpath_out_t *result, __local hotpath_out_t *scratch) {
  hotpath_out_t acc = (${neutral});
  for (ulong i = get_local_id(0); i < n; i += get_local_size(0)) acc = hotpath_reduce(acc, partials[i]);
  const hotpath_out_t total = hotpath_group_fold(acc, scratch);
  if (get_local_id(0) == 0) result[0] = total;
}
`,
      kernels: [`${name}_stage1`, `${name}_stage2`],
    }));
    this.type = type;
  }

  /** The reduction over n elements (default: the first Buffer's length); bigint for long/ulong. */
  async run(args: readonly KernelArgument[], options?: { n?: number }): Promise<number | bigint> {
    const { n, values } = this.bind(args, options);
    return this.withKernels(async ([stage1, stage2]) => {
      const Out = scalarArrays[this.type];
      const limit = Math.min(stage1.workGroupSize, stage2.workGroupSize, this.context.device.maxWorkGroupSize, 256);
      const group = 2 ** Math.floor(Math.log2(limit));
      const global = this.globalSize(n, group);
      const groups = global / group;
      const scratch = { local: group * Out.BYTES_PER_ELEMENT };
      const partials = this.context.buffer(groups * Out.BYTES_PER_ELEMENT, { type: this.type });
      const result = this.context.buffer(Out.BYTES_PER_ELEMENT, { type: this.type });
      try {
        // One in-order queue: the stages and the read run in sequence without waiting in between.
        const [, , out] = await Promise.all([
          stage1.run({ global, local: group, args: [...values, BigInt(n), partials, scratch] }),
          stage2.run({ global: group, local: group, args: [partials, BigInt(groups), result, scratch] }),
          result.read(),
        ]);
        return out[0];
      } finally {
        partials.release();
        result.release();
      }
    });
  }
}
