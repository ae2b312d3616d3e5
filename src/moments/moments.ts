// Streaming moments: the public Moments accumulator and describe(), over either backend.
import { MAX_THREADS, getNumThreads } from '../core/threads.js';
import { type Backend, resolveBackend } from '../core/loader.js';
import {
  checkBoolean,
  checkInteger,
  checkOneOf,
  checkOptions,
  typeName,
  type FloatArray,
  toFloatArray,
} from '../core/validate.js';
import { accumulate, emptyPartial, mergePartials, NanPolicyCode, type Partial } from './kernel.js';
import { accumulateNative, accumulateNativeAsync } from './native.js';

export type NanPolicy = 'propagate' | 'omit' | 'raise';
const nanPolicies: readonly NanPolicy[] = ['propagate', 'omit', 'raise'];
const nanCodes: Record<NanPolicy, NanPolicyCode> = {
  propagate: NanPolicyCode.Propagate,
  omit: NanPolicyCode.Omit,
  raise: NanPolicyCode.Raise,
};

export interface MomentsOptions {
  /** Kernel used by pushArray/pushArrayAsync. Default: the process backend (`hotpath.backend`). */
  backend?: Backend;
  /** What a NaN does: poison the statistics (default), be skipped and counted, or throw. */
  nan?: NanPolicy;
}

export interface AsyncOptions {
  /** Worker threads for the native kernel. Default: getNumThreads() (all cores unless setNumThreads changed it). */
  threads?: number;
}

/** Serializable state: crosses worker and process boundaries (structured clone or JSON). */
export interface MomentsJSON {
  count: number;
  /** The mean (informational; merging uses shift + shiftedMean, which keep full precision). */
  mean: number;
  shift: number;
  shiftedMean: number;
  m2: number;
  m3: number;
  m4: number;
  min: number;
  max: number;
  nanCount: number;
}

export interface VarianceOptions {
  /** Delta degrees of freedom: divide by n - ddof. Default 1 (sample variance, as scipy.stats.describe). */
  ddof?: number;
}
export interface SkewnessOptions {
  /** true (default, SciPy's): the biased estimator g1. false: the adjusted Fisher–Pearson G1. */
  bias?: boolean;
}
export interface KurtosisOptions {
  /** true (default): excess kurtosis (normal = 0). false: Pearson's (normal = 3). */
  fisher?: boolean;
  /** true (default, SciPy's): biased g2. false: the unbiased-adjusted G2. */
  bias?: boolean;
}

export type DescribeOptions = MomentsOptions & VarianceOptions & SkewnessOptions & KurtosisOptions;

/** Like scipy.stats.describe (min and max flattened), plus how many NaNs were seen. */
export interface DescribeResult {
  nobs: number;
  min: number;
  max: number;
  mean: number;
  variance: number;
  skewness: number;
  kurtosis: number;
  nanCount: number;
}

const MOMENT_KEYS = ['count', 'shift', 'shiftedMean', 'm2', 'm3', 'm4', 'min', 'max', 'nanCount'] as const;

/**
 * One-pass, mergeable mean / variance / skewness / kurtosis. Numerically stable: blocks are
 * summed about their own mean and combined with Pébay's pairwise formulas, so 1e9 + noise keeps
 * its variance. Partials from workers combine exactly with merge().
 */
export class Moments {
  readonly backend: Backend;
  readonly nan: NanPolicy;
  #state: Partial = emptyPartial();

  constructor(options?: MomentsOptions) {
    const opts = checkOptions('Moments', options);
    this.backend = resolveBackend(opts.backend, 'Moments');
    this.nan = opts.nan === undefined ? 'propagate' : checkOneOf('Moments', 'nan', opts.nan, nanPolicies);
  }

  /** Adds one value. */
  push(x: number): this {
    if (typeof x !== 'number') throw new TypeError(`Moments.push: x must be a number, got ${typeName(x)}`);
    if (Number.isNaN(x)) {
      if (this.nan === 'raise') throw new RangeError(`Moments.push: x is NaN (nan: 'raise')`);
      if (this.nan === 'omit') {
        this.#state = { ...this.#state, nanCount: this.#state.nanCount + 1 };
        return this;
      }
      this.#state = mergePartials(this.#state, {
        n: 1,
        shift: 0,
        mean: NaN,
        m2: NaN,
        m3: NaN,
        m4: NaN,
        min: NaN,
        max: NaN,
        nanCount: 1,
      });
      return this;
    }
    this.#state = mergePartials(this.#state, {
      n: 1,
      shift: x,
      mean: 0,
      m2: 0,
      m3: 0,
      m4: 0,
      min: x,
      max: x,
      nanCount: 0,
    });
    return this;
  }

  /** Adds every element of a Float64Array, Float32Array, integer typed array or number[] in one kernel call. */
  pushArray(values: ArrayLike<number>): this {
    const x = toFloatArray('Moments.pushArray', 'values', values);
    const code = nanCodes[this.nan];
    const part =
      this.backend === 'native'
        ? accumulateNative(x, code, 'Moments.pushArray')
        : accumulate(x, code, 'Moments.pushArray');
    this.#state = mergePartials(this.#state, part);
    return this;
  }

  /** pushArray off the event loop: the native kernel splits the array over `threads` OS threads. */
  async pushArrayAsync(values: ArrayLike<number>, options?: AsyncOptions): Promise<this> {
    const x = toFloatArray('Moments.pushArrayAsync', 'values', values);
    const threads = asyncThreads('Moments.pushArrayAsync', options);
    const part = await accumulateWith(this.backend, x, nanCodes[this.nan], threads, 'Moments.pushArrayAsync');
    this.#state = mergePartials(this.#state, part);
    return this;
  }

  /** Folds another accumulator (or its toJSON() form) into this one. */
  merge(other: Moments | MomentsJSON): this {
    const part = other instanceof Moments ? other.#state : partialFromJSON('Moments.merge', other);
    this.#state = mergePartials(this.#state, part);
    return this;
  }

  /** Number of non-NaN values seen, plus NaNs under the 'propagate' policy. */
  get count(): number {
    return this.#state.n;
  }
  get nanCount(): number {
    return this.#state.nanCount;
  }
  get mean(): number {
    return this.#state.n === 0 ? NaN : this.#state.shift + this.#state.mean;
  }
  get min(): number {
    return this.#state.n === 0 ? NaN : this.#state.min;
  }
  get max(): number {
    return this.#state.n === 0 ? NaN : this.#state.max;
  }

  variance(options?: VarianceOptions): number {
    const opts = checkOptions('Moments.variance', options);
    const ddof = opts.ddof === undefined ? 1 : checkInteger('Moments.variance', 'ddof', opts.ddof, 0);
    const { n, m2 } = this.#state;
    return n - ddof > 0 ? m2 / (n - ddof) : NaN;
  }

  std(options?: VarianceOptions): number {
    return Math.sqrt(this.variance(options));
  }

  skewness(options?: SkewnessOptions): number {
    const opts = checkOptions('Moments.skewness', options);
    const bias = opts.bias === undefined ? true : checkBoolean('Moments.skewness', 'bias', opts.bias);
    const { n, m2, m3 } = this.#state;
    if (n === 0 || this.#isDegenerate()) return NaN;
    const g1 = (Math.sqrt(n) * m3) / Math.pow(m2, 1.5);
    if (bias) return g1;
    return n > 2 ? (g1 * Math.sqrt(n * (n - 1))) / (n - 2) : NaN;
  }

  kurtosis(options?: KurtosisOptions): number {
    const opts = checkOptions('Moments.kurtosis', options);
    const fisher = opts.fisher === undefined ? true : checkBoolean('Moments.kurtosis', 'fisher', opts.fisher);
    const bias = opts.bias === undefined ? true : checkBoolean('Moments.kurtosis', 'bias', opts.bias);
    const { n, m2, m4 } = this.#state;
    if (n === 0 || this.#isDegenerate()) return NaN;
    let pearson = (n * m4) / (m2 * m2);
    if (!bias) {
      if (n <= 3) return NaN;
      // SciPy: ((n^2 - 1) m4/m2^2 - 3 (n-1)^2) / ((n-2)(n-3)) + 3, with biased m2, m4.
      pearson = ((n * n - 1) * pearson - 3 * (n - 1) * (n - 1)) / ((n - 2) * (n - 3)) + 3;
    }
    return fisher ? pearson - 3 : pearson;
  }

  // SciPy treats a variance lost in round-off (constant data) as zero and returns NaN for shape.
  #isDegenerate(): boolean {
    const { n, m2 } = this.#state;
    const eps = Number.EPSILON * this.mean;
    return m2 / n <= eps * eps;
  }

  toJSON(): MomentsJSON {
    return partialToJSON(this.#state);
  }

  static fromJSON(json: MomentsJSON, options?: MomentsOptions): Moments {
    const m = new Moments(options);
    m.#state = partialFromJSON('Moments.fromJSON', json);
    return m;
  }

  describe(options?: VarianceOptions & SkewnessOptions & KurtosisOptions): DescribeResult {
    const opts = checkOptions('describe', options);
    return {
      nobs: this.count,
      min: this.min,
      max: this.max,
      mean: this.mean,
      variance: this.variance({ ddof: opts.ddof as number | undefined }),
      skewness: this.skewness({ bias: opts.bias as boolean | undefined }),
      kurtosis: this.kurtosis({ fisher: opts.fisher as boolean | undefined, bias: opts.bias as boolean | undefined }),
      nanCount: this.nanCount,
    };
  }
}

function partialFromJSON(where: string, json: unknown): Partial {
  if (json === null || typeof json !== 'object') {
    throw new TypeError(`${where}: expected a Moments or its toJSON() object, got ${typeName(json)}`);
  }
  const o = json as Record<string, unknown>;
  for (const key of MOMENT_KEYS) {
    // JSON.stringify turns ±Infinity/NaN into null; min/max of an empty accumulator come back that way.
    if (o[key] === null && (key === 'min' || key === 'max' || key === 'shiftedMean')) continue;
    if (typeof o[key] !== 'number')
      throw new TypeError(`${where}: field '${key}' must be a number, got ${typeName(o[key])}`);
  }
  const count = o.count as number;
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`${where}: field 'count' must be an integer >= 0, got ${count}`);
  const num = (key: string, fallback: number) => (o[key] === null ? fallback : (o[key] as number));
  return {
    n: count,
    shift: o.shift as number,
    mean: num('shiftedMean', count === 0 ? 0 : NaN),
    m2: o.m2 as number,
    m3: o.m3 as number,
    m4: o.m4 as number,
    min: num('min', count === 0 ? Infinity : NaN),
    max: num('max', count === 0 ? -Infinity : NaN),
    nanCount: o.nanCount as number,
  };
}

function asyncThreads(where: string, options: unknown): number {
  const opts = checkOptions(where, options);
  return opts.threads === undefined ? getNumThreads() : checkInteger(where, 'threads', opts.threads, 1, MAX_THREADS);
}

function accumulateWith(
  backend: Backend,
  x: FloatArray,
  code: NanPolicyCode,
  threads: number,
  where: string,
): Promise<Partial> {
  if (backend === 'native') return accumulateNativeAsync(x, code, threads, where);
  // The pure-TS path has no threads of its own: it reads the values during the call, as the native
  // one does (a buffer detached or shrunk after the call returns cannot change the answer), and
  // still settles asynchronously.
  return new Promise((resolve, reject) => {
    let part: Partial;
    try {
      part = accumulate(x, code, where);
    } catch (error) {
      setImmediate(() => reject(error));
      return;
    }
    setImmediate(() => resolve(part));
  });
}

/** scipy.stats.describe in one pass: nobs, min, max, mean, variance (ddof=1), skewness, kurtosis (Fisher, biased). */
export function describe(values: ArrayLike<number>, options?: DescribeOptions): DescribeResult {
  const opts = checkOptions('describe', options);
  const m = new Moments({ backend: opts.backend as Backend | undefined, nan: opts.nan as NanPolicy | undefined });
  const x = toFloatArray('describe', 'values', values);
  const code = nanCodes[m.nan];
  const part = m.backend === 'native' ? accumulateNative(x, code, 'describe') : accumulate(x, code, 'describe');
  return m.merge(partialToJSON(part)).describe(opts);
}

/** describe() off the event loop; the native kernel uses `threads` OS threads (default: all cores). */
export async function describeAsync(
  values: ArrayLike<number>,
  options?: DescribeOptions & AsyncOptions,
): Promise<DescribeResult> {
  const opts = checkOptions('describeAsync', options);
  const m = new Moments({ backend: opts.backend as Backend | undefined, nan: opts.nan as NanPolicy | undefined });
  await m.pushArrayAsync(values, { threads: opts.threads as number | undefined });
  return m.describe(opts);
}

function partialToJSON(p: Partial): MomentsJSON {
  const mean = p.n === 0 ? NaN : p.shift + p.mean;
  return {
    count: p.n,
    mean,
    shift: p.shift,
    shiftedMean: p.mean,
    m2: p.m2,
    m3: p.m3,
    m4: p.m4,
    min: p.min,
    max: p.max,
    nanCount: p.nanCount,
  };
}
