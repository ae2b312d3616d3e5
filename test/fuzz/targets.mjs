// Every public export (and the methods of the objects they return) as a fuzz target: a function that calls it with
// hostile or near-valid arguments. A target returns whatever the call returned; the runner awaits promises with a
// deadline (native async work must settle) and checks that anything thrown is an Error.
import { createRequire } from 'node:module';
import { anyValue, fill, numberish, options, typedArray, TYPED_ARRAYS } from './values.mjs';
import { arrowSource, expressionText } from './expressions.mjs';

const BACKENDS = ['native', 'js'];
/** The backends objects under test can be built on: 'native' only where the addon loaded. */
export const usableBackends = (hp) => (hp.backend === 'native' ? BACKENDS : ['js']);
const EVAL_OPTIONS = ['out', 'threads', 'blockSize', 'backend'];
const EVAL_PLAUSIBLE = { threads: [1, 2, 3, 8, 64], blockSize: [1, 7, 64, 256, 1000, 4096], backend: BACKENDS };
const DESCRIBE_OPTIONS = ['ddof', 'bias', 'fisher', 'nan', 'backend', 'threads'];
const DESCRIBE_PLAUSIBLE = {
  ddof: [0, 1, 2],
  bias: [true, false],
  fisher: [true, false],
  nan: ['propagate', 'omit', 'raise'],
  backend: BACKENDS,
  threads: [1, 2, 4],
};
const SKETCH_OPTIONS = ['seed', 'conservative', 'counter', 'backend'];
const SKETCH_PLAUSIBLE = {
  seed: [0, 1, 2n ** 64n - 1n],
  conservative: [true, false],
  counter: ['u32', 'u64'],
  backend: BACKENDS,
};
const VARIABLES = ['a', 'b', 'c'];

/** A numeric array argument: a float typed array (most often), any typed array, a number[] or anything. */
function numericArray(rng, length) {
  const roll = rng.float();
  if (roll < 0.6) return typedArray(rng, rng.pick([Float64Array, Float32Array]), length);
  if (roll < 0.8) return typedArray(rng, undefined, length);
  if (roll < 0.9) return Array.from({ length: Math.min(length ?? 8, 5000) }, () => numberish(rng));
  return anyValue(rng);
}

/** Variables for an expression: mostly same-length arrays of every kind and scalars, with hostile outliers. */
function variables(rng) {
  const length = rng.length();
  const vars = {};
  for (const name of VARIABLES) {
    const roll = rng.float();
    const types = [Float64Array, Float32Array, Int32Array, BigInt64Array, Uint32Array, Int16Array];
    if (roll < 0.7) vars[name] = typedArray(rng, rng.pick(types), length);
    else if (roll < 0.75) vars[name] = { data: typedArray(rng, Uint8Array, length), dtype: 'bool' };
    else if (roll < 0.8) vars[name] = rng.pick([0n, -1n, 2n ** 63n - 1n, 2n ** 64n, true, false]);
    else if (roll < 0.85) vars[name] = numberish(rng);
    else vars[name] = anyValue(rng);
  }
  return rng.chance(0.05) ? anyValue(rng) : vars;
}

function evalOptions(rng, vars) {
  const plausible = { ...EVAL_PLAUSIBLE, out: vars && typeof vars === 'object' ? [vars.a, vars.b] : [] };
  return options(rng, EVAL_OPTIONS, 0, plausible);
}

/** A key for count-min: a string, bytes (any view), a number or a bigint, or anything. */
function key(rng) {
  const roll = rng.int(0, 5);
  if (roll === 0) return rng.pick(['', 'a', 'key', '\ud800', '😀', 'x'.repeat(rng.int(0, 5000))]);
  if (roll === 1) return typedArray(rng, Uint8Array, rng.int(0, 40));
  if (roll === 2) return rng.pick([0, 1, -1, 2 ** 53 - 1, -(2 ** 53), 0.5, NaN, 2 ** 60]);
  if (roll === 3) return rng.pick([0n, -1n, 2n ** 63n - 1n, 2n ** 63n, -(2n ** 64n)]);
  if (roll === 4) return `k${rng.int(0, 50)}`;
  return anyValue(rng);
}

function keys(rng) {
  if (rng.chance(0.1)) return anyValue(rng);
  return Array.from({ length: rng.pick([0, 1, 5, 100, 8193]) }, () =>
    rng.chance(0.8) ? `k${rng.int(0, 99)}` : key(rng),
  );
}

function counts(rng, n) {
  const roll = rng.int(0, 3);
  if (roll === 0) return undefined;
  if (roll === 1) return Array.from({ length: n }, () => (rng.chance(0.9) ? rng.int(0, 5) : numberish(rng)));
  if (roll === 2) return typedArray(rng, rng.pick(TYPED_ARRAYS), rng.chance(0.8) ? n : rng.length(100));
  return anyValue(rng);
}

function sketch(rng, hp) {
  const opts = {
    seed: rng.int(0, 3),
    counter: rng.pick(['u32', 'u64']),
    conservative: rng.chance(0.5),
    backend: rng.pick(usableBackends(hp)),
  };
  const result = hp.CountMinSketch.withDimensions(rng.int(1, 300), rng.int(1, 6), opts);
  result.updateMany(Array.from({ length: rng.int(0, 200) }, () => `k${rng.int(0, 99)}`));
  return result;
}

function topK(rng, hp) {
  const result = new hp.TopK(rng.int(1, 20), {
    width: rng.int(1, 300),
    depth: rng.int(1, 5),
    backend: rng.pick(usableBackends(hp)),
    counter: rng.pick(['u32', 'u64']),
  });
  result.updateMany(Array.from({ length: rng.int(0, 200) }, () => `k${rng.int(0, 99)}`));
  return result;
}

function moments(rng, hp) {
  const result = new hp.Moments({ backend: rng.pick(usableBackends(hp)), nan: rng.pick(['propagate', 'omit']) });
  return result.pushArray(typedArray(rng, Float64Array, rng.int(0, 100)));
}

const SAFE_KERNEL = `__kernel void fill(__global float *x, const uint n, const float v, __local float *scratch) {
  size_t i = get_global_id(0);
  if (get_local_id(0) == 0) scratch[0] = v;
  barrier(CLK_LOCAL_MEM_FENCE);
  if (i < n) x[i] = scratch[0] + (float)i;
}`;

/** OpenCL objects shared by the cases of one child process (building a program costs ~100 ms on pocl). */
export class OpenclFixture {
  constructor(hp) {
    this.hp = hp;
    this.context = null;
    this.kernelPromise = null;
  }

  get available() {
    return this.hp.opencl.available();
  }

  ctx() {
    this.context ??= this.hp.opencl.createContext();
    return this.context;
  }

  async kernel() {
    this.kernelPromise ??= this.ctx()
      .program(SAFE_KERNEL)
      .then((program) => program.kernel('fill'));
    return this.kernelPromise;
  }

  buffer(rng) {
    return this.ctx().buffer(new Float32Array(rng.pick([1, 16, 256, 4096])));
  }
}

/** A sync-or-async call that needs OpenCL; without a device it is skipped (returns the string 'skipped'). */
function withOpencl(run) {
  return (rng, hp, fixtures) => (fixtures.opencl.available ? run(rng, hp, fixtures.opencl) : 'skipped');
}

/**
 * The raw addon (what `require(nativePath)` gives): its bindings must validate everything themselves, since the TS
 * layer is not the only way to reach them. Argument kinds per binding (src/core/addon.ts documents them); a kind
 * gives a near-valid value (right type, random length, odd view) most of the time, else anything.
 */
const rawAddon = (hp) => createRequire(import.meta.url)(hp.nativePath);
// exprEvaluateNd and its async twin take the same arguments.
const EXPR_ND_ARGS = [
  'code',
  'floats',
  'inputs',
  'ndStrides',
  'ndOffsets',
  'ndShape',
  'outputs',
  'ndAxes',
  'outputs',
  'count',
  'count',
];
const BINDINGS = {
  momentsPartial: ['floats', 'policy'],
  floatSum: ['floats'],
  momentsPartialAsync: ['floats', 'policy', 'count'],
  exprEvaluate: ['code', 'floats', 'inputs', 'outputs', 'count', 'count', 'count'],
  exprEvaluateAsync: ['code', 'floats', 'inputs', 'outputs', 'count', 'count', 'count'],
  exprEvaluateNd: EXPR_ND_ARGS,
  exprEvaluateNdAsync: EXPR_ND_ARGS,
  countminUpdate: ['counters', 'shape', 'keys', 'offsets', 'floats?', 'floats?'],
  countminEstimate: ['counters', 'shape', 'keys', 'offsets', 'floats'],
  countminUpdateOne: ['counters', 'shape', 'keys', 'count'],
  countminEstimateOne: ['counters', 'shape', 'keys'],
  countminMerge: ['counters', 'counters', 'bool', 'count'],
  countminHash: ['bytes', 'count', 'count'],
  countminPipelineOpen: ['bool'],
  countminPipelinePush: ['pipeline', 'counters', 'shape', 'keys', 'offsets', 'floats?', 'floats?'],
  countminPipelineClose: ['pipeline', 'counters', 'shape', 'floats?'],
  trackedFloat64Array: ['count'],
  openclCreateContext: ['count'],
  openclRelease: ['any'],
};

/** Count-min pipelines this child opened, some closed since: pushed to and closed again, in any order. */
const openedPipelines = [];

/** A pipeline handle this child opened (most of the time), else a number or anything. */
function pipelineArgument(rng, addon) {
  if (rng.chance(0.2)) return bindingArgument(rng, rng.pick(['count', 'any']));
  if (openedPipelines.length === 0 || (openedPipelines.length < 16 && rng.chance(0.3))) {
    openedPipelines.push(addon.countminPipelineOpen(rng.chance(0.5)));
  }
  return rng.pick(openedPipelines);
}

function bindingArgument(rng, kind) {
  if (rng.chance(0.15)) return anyValue(rng);
  switch (kind) {
    case 'floats':
      return typedArray(rng, rng.pick([Float64Array, Float32Array]), rng.length(5000));
    case 'floats?':
      return rng.chance(0.3) ? null : typedArray(rng, Float64Array, rng.length(300));
    case 'policy':
      return rng.int(-1, 3);
    case 'count':
      return rng.pick([0, 1, 2, 3, 4, 8, 255, 256, 4096, 2 ** 31, 2 ** 32, -1, 0.5, NaN]);
    case 'bool':
      return rng.chance(0.5);
    case 'code':
      return fill(rng, typedArray(rng, Int32Array, rng.int(0, 64)), { integers: true });
    case 'inputs':
      return Array.from({ length: rng.int(0, 4) }, () => bindingArgument(rng, rng.pick(['floats', 'count'])));
    case 'outputs':
      return Array.from({ length: rng.int(0, 3) }, () => bindingArgument(rng, 'floats?'));
    // n-d views (exprEvaluateNd): small shapes, strides that may step outside the data or past 2**53.
    case 'ndShape':
      return Array.from({ length: rng.int(0, 3) }, () => rng.pick([0, 1, 2, 5, 300, 2 ** 32]));
    case 'ndStrides':
      return Array.from({ length: rng.int(0, 4) }, () =>
        Array.from({ length: rng.int(0, 3) }, () => rng.pick([0, 1, -1, 3, 2 ** 31, 2 ** 53, 0.5])),
      );
    case 'ndOffsets':
      return Array.from({ length: rng.int(0, 4) }, () => rng.pick([0, 1, 7, 4096, -1, 2 ** 40]));
    case 'ndAxes':
      return fill(rng, typedArray(rng, Int32Array, rng.int(0, 6)), { integers: true });
    case 'counters':
      return typedArray(rng, Uint32Array, rng.int(0, 600));
    case 'shape': {
      // [width, depth, seedLo, seedHi, wide, conservative], sometimes with one field out of range or cut short
      const shape = Uint32Array.of(
        rng.int(1, 300),
        rng.int(1, 6),
        rng.uint32(),
        rng.uint32(),
        rng.int(0, 1),
        rng.int(0, 1),
      );
      if (rng.chance(0.3)) shape[rng.int(0, 5)] = rng.pick([0, 2, 2 ** 31, 2 ** 32 - 1]);
      return rng.chance(0.9) ? shape : shape.subarray(0, rng.int(0, 5));
    }
    case 'keys':
      return rng.chance(0.5) ? rng.pick(['', 'abc', 'k1k2k3', '\ud800x']) : typedArray(rng, Uint8Array, rng.int(0, 40));
    case 'offsets':
      return fill(rng, typedArray(rng, Uint32Array, rng.int(0, 6)), { integers: true });
    case 'bytes':
      return typedArray(rng, Uint8Array, rng.int(0, 100));
    default:
      return anyValue(rng);
  }
}

/**
 * name → (rng, hp, fixtures) => result. Exports that start processes, open sockets or write files (gateways,
 * clusters, Redis, fetch, FileStore, Pool) get hostile arguments too, but the runner does not wait for what they
 * start: a case ends when its call returned or its promise settled within the deadline.
 */
export const TARGETS = {
  describe: (rng, hp) => hp.describe(numericArray(rng), options(rng, DESCRIBE_OPTIONS, 0, DESCRIBE_PLAUSIBLE)),
  describeAsync: (rng, hp) =>
    hp.describeAsync(numericArray(rng), options(rng, DESCRIBE_OPTIONS, 0, DESCRIBE_PLAUSIBLE)),
  'new Moments': (rng, hp) => new hp.Moments(options(rng, ['backend', 'nan'], 0, DESCRIBE_PLAUSIBLE)),
  'Moments#push': (rng, hp) => moments(rng, hp).push(numberish(rng)),
  'Moments#pushArray': (rng, hp) => moments(rng, hp).pushArray(numericArray(rng)),
  'Moments#pushArrayAsync': (rng, hp) => moments(rng, hp).pushArrayAsync(numericArray(rng), options(rng, ['threads'])),
  'Moments#merge': (rng, hp) => moments(rng, hp).merge(rng.chance(0.5) ? moments(rng, hp).toJSON() : anyValue(rng)),
  'Moments#stats': (rng, hp) => {
    const m = moments(rng, hp);
    return [
      m.variance(options(rng, ['ddof'])),
      m.skewness(options(rng, ['bias'])),
      m.kurtosis(options(rng, ['fisher', 'bias'])),
      m.describe(options(rng, ['ddof', 'bias', 'fisher'])),
    ];
  },
  'Moments.fromJSON': (rng, hp) => {
    const json = moments(rng, hp).toJSON();
    for (const field of Object.keys(json)) if (rng.chance(0.2)) json[field] = numberish(rng);
    return hp.Moments.fromJSON(rng.chance(0.9) ? json : anyValue(rng), options(rng, ['backend', 'nan']));
  },
  evaluate: (rng, hp) => {
    const vars = variables(rng);
    return hp.evaluate(expressionText(rng, hp.FUNCTIONS, VARIABLES), vars, evalOptions(rng, vars));
  },
  evaluateAsync: (rng, hp) => {
    const vars = variables(rng);
    return hp.evaluateAsync(expressionText(rng, hp.FUNCTIONS, VARIABLES), vars, evalOptions(rng, vars));
  },
  evaluateMany: (rng, hp) => {
    const vars = variables(rng);
    const exprs = { x: expressionText(rng, hp.FUNCTIONS, VARIABLES), y: expressionText(rng, hp.FUNCTIONS, VARIABLES) };
    const outs = [{ x: vars?.a }, { x: vars?.a, y: vars?.a }];
    const opts = options(rng, EVAL_OPTIONS, 0, { ...EVAL_PLAUSIBLE, out: outs });
    return hp.evaluateMany(rng.chance(0.9) ? exprs : anyValue(rng), vars, opts);
  },
  parseExpression: (rng, hp) =>
    hp.parseExpression(rng.chance(0.9) ? expressionText(rng, hp.FUNCTIONS, VARIABLES) : anyValue(rng)),
  compile: (rng, hp) => {
    const program = hp.compile(expressionText(rng, hp.FUNCTIONS, VARIABLES));
    const vars = variables(rng);
    if (rng.chance(0.2)) return program.toString();
    return rng.chance(0.5) ? program.run(vars, evalOptions(rng, vars)) : program.runAsync(vars, evalOptions(rng, vars));
  },
  vectorize: (rng, hp) => {
    const source = arrowSource(rng, VARIABLES.slice(0, rng.int(1, 3)));
    const fn = hp.vectorize(new Function(`return ${source}`)());
    const vars = variables(rng);
    const args = [vars?.a, vars?.b, vars?.c].slice(0, fn.params.length);
    return rng.chance(0.5) ? fn(...args, evalOptions(rng, vars)) : fn.async(...args, evalOptions(rng, vars));
  },
  'CountMinSketch.withDimensions': (rng, hp) =>
    hp.CountMinSketch.withDimensions(numberish(rng), numberish(rng), options(rng, SKETCH_OPTIONS, 0, SKETCH_PLAUSIBLE)),
  'CountMinSketch.withErrorRate': (rng, hp) =>
    hp.CountMinSketch.withErrorRate(numberish(rng), numberish(rng), options(rng, SKETCH_OPTIONS, 0, SKETCH_PLAUSIBLE)),
  'CountMinSketch#update': (rng, hp) => sketch(rng, hp).update(key(rng), rng.chance(0.5) ? undefined : numberish(rng)),
  'CountMinSketch#updateMany': (rng, hp) => {
    const ks = keys(rng);
    return sketch(rng, hp).updateMany(ks, counts(rng, Array.isArray(ks) ? ks.length : 3));
  },
  'CountMinSketch#estimate': (rng, hp) => {
    const s = sketch(rng, hp);
    return [s.estimate(key(rng)), s.lowerBound(key(rng)), s.upperBound(key(rng)), s.estimateMany(keys(rng))];
  },
  'CountMinSketch#merge': (rng, hp) => {
    const s = sketch(rng, hp);
    const other = rng.chance(0.5) ? sketch(rng, hp) : anyValue(rng);
    return s.merge(rng.chance(0.5) ? other : { sketch: other, weight: numberish(rng) });
  },
  'CountMinSketch.fromBuffer': (rng, hp) => hp.CountMinSketch.fromBuffer(anyValue(rng), options(rng, ['backend'])),
  'new TopK': (rng, hp) =>
    new hp.TopK(
      numberish(rng),
      options(rng, ['width', 'depth', 'epsilon', 'delta', 'seed', 'counter', 'backend'], 0, SKETCH_PLAUSIBLE),
    ),
  'TopK#methods': (rng, hp) => {
    const t = topK(rng, hp);
    const ks = keys(rng);
    t.update(key(rng), rng.chance(0.5) ? undefined : numberish(rng));
    t.updateMany(ks, counts(rng, Array.isArray(ks) ? ks.length : 3));
    return [t.estimate(key(rng)), t.list()];
  },
  'TopK#merge': (rng, hp) => {
    const other = rng.chance(0.5) ? topK(rng, hp) : anyValue(rng);
    return topK(rng, hp).merge(rng.chance(0.5) ? other : { topK: other, weight: numberish(rng) });
  },
  'TopK.fromBuffer': (rng, hp) => hp.TopK.fromBuffer(anyValue(rng), options(rng, ['backend'])),
  xxhash64: (rng, hp) => hp.xxhash64(key(rng), options(rng, ['seed', 'backend'], 0, SKETCH_PLAUSIBLE)),
  nativeMemory: (_rng, hp) => hp.nativeMemory(),
  profileMemory: (rng, hp) =>
    hp.profileMemory(
      rng.chance(0.7) ? () => hp.describe(numericArray(rng)) : anyValue(rng),
      options(rng, ['interval', 'gc', 'sampling'], 0, { interval: [1, 5], gc: [true, false], sampling: [false, true] }),
    ),
  'parallel.describe': (rng, hp) =>
    hp.parallel.describe(numericArray(rng), options(rng, [...DESCRIBE_OPTIONS, 'signal'], 0, DESCRIBE_PLAUSIBLE)),
  'parallel.evaluate': (rng, hp) => {
    const vars = variables(rng);
    return hp.parallel.evaluate(
      expressionText(rng, hp.FUNCTIONS, VARIABLES),
      vars,
      options(rng, ['backend', 'threads', 'signal'], 0, EVAL_PLAUSIBLE),
    );
  },
  'opencl.probe': (rng, hp) => [
    hp.opencl.available(),
    hp.opencl.unavailableReason(),
    hp.opencl.platforms(),
    hp.opencl.devices(options(rng, ['type'], 0, { type: ['all', 'cpu', 'gpu', 'accelerator', 'custom'] })),
  ],
  'opencl.createContext': withOpencl((rng, hp) => hp.opencl.createContext(anyValue(rng)).release()),
  'opencl.Context#buffer': withOpencl((rng, _hp, cl) => {
    const source = rng.chance(0.6) ? typedArray(rng, undefined, rng.length(5000)) : numberish(rng);
    return cl
      .ctx()
      .buffer(
        source,
        options(rng, ['access', 'type'], 0, {
          access: ['read_write', 'read_only', 'write_only'],
          type: ['char', 'float', 'double', 'ulong'],
        }),
      )
      .release();
  }),
  'opencl.Buffer#write': withOpencl((rng, _hp, cl) =>
    cl
      .buffer(rng)
      .write(
        rng.chance(0.8) ? typedArray(rng, undefined, rng.length(5000)) : anyValue(rng),
        options(rng, ['byteOffset'], 0, { byteOffset: [0, 1, 4, 1024, 16_384] }),
      ),
  ),
  'opencl.Buffer#read': withOpencl((rng, _hp, cl) =>
    cl
      .buffer(rng)
      .read(
        rng.chance(0.8) ? typedArray(rng, undefined, rng.length(5000)) : anyValue(rng),
        options(rng, ['byteOffset'], 0, { byteOffset: [0, 1, 4, 1024, 16_384] }),
      ),
  ),
  'opencl.Context#program': withOpencl((rng, _hp, cl) =>
    cl
      .ctx()
      .program(
        rng.chance(0.7)
          ? rng.pick(['', 'garbage', '__kernel void k() {}', SAFE_KERNEL.slice(0, rng.int(0, 200))])
          : anyValue(rng),
        options(rng, ['options'], 0, { options: ['-D N=4', ['-cl-fast-relaxed-math'], '-bogus-flag', ''] }),
      ),
  ),
  'opencl.Kernel#run': withOpencl(async (rng, _hp, cl) => {
    const kernel = await cl.kernel();
    const args = [
      rng.chance(0.8) ? cl.buffer(rng) : anyValue(rng),
      rng.chance(0.8) ? rng.int(0, 4096) : numberish(rng),
      rng.chance(0.8) ? 1.5 : numberish(rng),
      rng.chance(0.8) ? { local: rng.pick([4, 64, 1024]) } : anyValue(rng),
    ];
    if (rng.chance(0.1)) args.length = rng.int(0, 5);
    const small = [1, 2, 16, 64, 256, 4096];
    const hostile = [0, -1, NaN, 1.5, 2 ** 64, '4', [], [1, 2, 3, 4], [0, 1]];
    return kernel.run(
      options(rng, ['global', 'local', 'args'], 0, {
        global: [...small, [64, 2], ...hostile],
        local: [...small, [64, 1], ...hostile],
        args: [args],
      }),
    );
  }),
  'opencl.ElementwiseKernel': withOpencl((rng, hp, cl) => {
    const kernel = new hp.opencl.ElementwiseKernel(
      cl.ctx(),
      rng.chance(0.8) ? rng.pick(['float a, __global float *x', 'float *x, float *y', 'int *i']) : anyValue(rng),
      rng.chance(0.8) ? rng.pick(['x[i] = a', 'y[i] = x[i] * 2', '']) : anyValue(rng),
      options(rng, ['name', 'preamble', 'options']),
    );
    const args = [1, cl.buffer(rng), cl.buffer(rng)].slice(0, rng.int(0, 3));
    return kernel.run(args, options(rng, ['n'], 0, { n: [0, 1, 16, 1e9] })).finally(() => kernel.release());
  }),
  'opencl.ReductionKernel': withOpencl((rng, hp, cl) => {
    const kernel = new hp.opencl.ReductionKernel(
      cl.ctx(),
      options(rng, ['type', 'neutral', 'reduce', 'map', 'arguments', 'name', 'preamble', 'options'], 0, {
        type: ['float', 'double', 'long'],
        neutral: ['0'],
        reduce: ['a + b'],
        map: ['x[i]'],
        arguments: ['__global float *x'],
      }),
    );
    return kernel.run([cl.buffer(rng)], options(rng, ['n'], 0, { n: [0, 1, 16, 1e9] })).finally(() => kernel.release());
  }),
  'opencl.evaluate': withOpencl((rng, hp, cl) => {
    const vars = variables(rng);
    return hp.opencl.evaluate(
      expressionText(rng, hp.FUNCTIONS, VARIABLES),
      vars,
      options(rng, ['device', 'context', 'precision', 'out'], 0, {
        precision: ['auto', 'float32', 'float64'],
        context: [cl.ctx()],
        out: [vars?.a],
      }),
    );
  }),
  'async utilities': (rng, hp) => {
    const fn = rng.pick([hp.gather, hp.withTimeout, hp.mapAsync, hp.asCompleted, hp.wait, hp.Future.from]);
    return fn(anyValue(rng), anyValue(rng), anyValue(rng));
  },
  'new Semaphore': (rng, hp) => new hp.Semaphore(numberish(rng)).acquire(options(rng, ['signal'])),
  'new Future': (rng, hp) => new hp.Future(anyValue(rng)),
  'memoize/argumentsKey': (rng, hp) => [
    hp.argumentsKey(anyValue(rng), anyValue(rng)),
    hp.memoize(anyValue(rng), options(rng, ['maxSize', 'ttl', 'typed', 'key'])),
  ],
  'cache stores': (rng, hp) => {
    const Store = rng.pick([hp.MemoryStore, hp.FileStore, hp.RedisStore]);
    const names = ['maxBytes', 'path', 'url', 'prefix', 'ttl', 'ttlSeconds'];
    return new Store(options(rng, names, 0, { path: ['fuzz-store'] }));
  },
  createCachedFetch: (rng, hp) => hp.createCachedFetch(options(rng, ['store', 'fetch', 'maxBytes', 'ttl'])),
  'new Pool': (rng, hp) => new hp.Pool(options(rng, ['filename', 'module', 'maxThreads', 'minThreads', 'timeout'])),
  'distributed openers': (rng, hp) => {
    const open = rng.pick([
      hp.openGateway,
      hp.Group.open,
      (a, b) => new hp.ClusterExecutor(b ?? a),
      (a, b) => hp.startClusterWorker(b ?? a),
    ]);
    return open(
      rng.chance(0.5) ? rng.pick(['', 'ssh://', 'ssh://@:0', 'nope', 'ssh:///x']) : anyValue(rng),
      options(rng, ['queue', 'redis', 'connectTimeout', 'heartbeatInterval', 'node', 'sshArgs']),
    );
  },
  'new Channel': (rng, hp) => new hp.Channel(anyValue(rng)),
  'addon (raw binding)': (rng, hp) => {
    if (hp.nativePath === null) return 'skipped';
    const addon = rawAddon(hp);
    const [name, kinds] = rng.pick(Object.entries(BINDINGS));
    const args = kinds.map((kind) => (kind === 'pipeline' ? pipelineArgument(rng, addon) : bindingArgument(rng, kind)));
    if (rng.chance(0.1)) args.length = rng.int(0, args.length);
    return addon[name](...args);
  },
};

/**
 * Targets whose promise may legitimately stay pending (a semaphore wait, a timeout of 2^53 ms, a gateway that
 * connects): for these the runner only checks how they settle if they do. Every other promise must settle.
 */
export const MAY_PEND = new Set([
  'async utilities',
  'new Semaphore',
  'new Future',
  'memoize/argumentsKey',
  'cache stores',
  'createCachedFetch',
  'new Pool',
  'distributed openers',
  'new Channel',
]);
