// profileMemory(): memory_profiler's memory_usage for a Node function, sync or async. Samples the
// process on a timer while the function runs, takes the peaks between samples from the kernel
// (RSS high-water mark) and the addon (native high-water mark), and with `gc` separates what the
// function retained from what it only used for a while.
import { performance } from 'node:perf_hooks';
import { checkBoolean, checkInteger, checkOptions, typeName } from '../core/validate.js';
import { takeNativePeak } from './native.js';
import {
  collectGarbage,
  mapFigures,
  type MemoryFigures,
  readFigures,
  resetRssHighWater,
  rssHighWater,
} from './process-memory.js';
import { AllocationSampler, type AllocationSite } from './sites.js';

export interface SamplingOptions {
  /** Average bytes allocated between two heap samples (V8's default). Default 32768. */
  interval?: number;
  /** How many allocation sites to report, largest first. Default 10. */
  top?: number;
}

export interface ProfileMemoryOptions {
  /** Milliseconds between samples while an async function runs (>= 1). Default 10. */
  interval?: number;
  /** Collect garbage before and after, to measure what the function retained. Default true. */
  gc?: boolean;
  /** Report the top allocating functions from V8's sampling heap profiler. Default false. */
  sampling?: boolean | SamplingOptions;
}

/** One sample: `t` milliseconds after the function was called. */
export interface MemorySample extends MemoryFigures {
  t: number;
}

export interface MemoryProfile<T> {
  /** What the function returned (or its promise resolved to). */
  result: T;
  durationMs: number;
  /** The first sample is taken just before the call, the last just after it returned or settled. */
  samples: MemorySample[];
  /** The figures just before the call (after a collection when `gc` is on). */
  baseline: MemoryFigures;
  /** Highest value of each figure while the function ran (rss and native also between samples). */
  peak: MemoryFigures;
  /** Last sample minus baseline: includes garbage not yet collected. */
  delta: MemoryFigures;
  /** After a collection, minus baseline: what the function kept alive. null when `gc` is false. */
  retained: MemoryFigures | null;
  /** Top allocation sites when `sampling` is on, else null. */
  sites: AllocationSite[] | null;
}

/** A Pool task's profile (Future.memory): a MemoryProfile without the result, which the Future has. */
export type TaskMemory = Omit<MemoryProfile<unknown>, 'result'>;

/** What profileMemory throws when the function throws: the error itself, with the profile attached. */
export type ProfiledError = Error & { profile: MemoryProfile<undefined> };

const WHERE = 'profileMemory';

/** Validated profileMemory options: plain data, so they can travel to a worker thread. */
export interface ProfileSettings {
  interval: number;
  gc: boolean;
  sampling: { interval: number; top: number } | null;
}

/** Checks profileMemory options; `prefix` names where they sit in a bigger options object ('memory.'). */
export function profileSettings(where: string, options: unknown, prefix = ''): ProfileSettings {
  const opts = checkOptions(where, options);
  let interval = 10;
  if (opts.interval !== undefined) {
    if (typeof opts.interval !== 'number') {
      throw new TypeError(
        `${where}: ${prefix}interval must be a number of milliseconds, got ${typeName(opts.interval)}`,
      );
    }
    // Node's timers cannot fire more often than once a millisecond.
    if (!(opts.interval >= 1) || opts.interval === Infinity) {
      throw new RangeError(
        `${where}: ${prefix}interval must be a finite number of milliseconds >= 1, got ${opts.interval}`,
      );
    }
    interval = opts.interval;
  }
  const gc = opts.gc === undefined ? true : checkBoolean(where, `${prefix}gc`, opts.gc);
  let sampling: ProfileSettings['sampling'] = null;
  if (opts.sampling === true || (typeof opts.sampling === 'object' && opts.sampling !== null)) {
    const s = opts.sampling === true ? {} : checkOptions(`${where}: ${prefix}sampling`, opts.sampling);
    sampling = {
      interval: s.interval === undefined ? 32768 : checkInteger(where, `${prefix}sampling.interval`, s.interval, 1),
      top: s.top === undefined ? 10 : checkInteger(where, `${prefix}sampling.top`, s.top, 1),
    };
  } else if (opts.sampling !== undefined && opts.sampling !== false) {
    throw new TypeError(
      `${where}: ${prefix}sampling must be a boolean or an options object, got ${typeName(opts.sampling)}`,
    );
  }
  return { interval, gc, sampling };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

/** Runs fn (sync or async) and resolves to its result with the memory it used; see MemoryProfile. */
export async function profileMemory<T>(
  fn: () => T | PromiseLike<T>,
  options?: ProfileMemoryOptions,
): Promise<MemoryProfile<Awaited<T>>> {
  if (typeof fn !== 'function') throw new TypeError(`${WHERE}: fn must be a function, got ${typeName(fn)}`);
  return profileWith(fn, profileSettings(WHERE, options));
}

/** profileMemory with options already checked (Pool workers receive them checked by the caller). */
export async function profileWith<T>(
  fn: () => T | PromiseLike<T>,
  settings: ProfileSettings,
): Promise<MemoryProfile<Awaited<T>>> {
  if (settings.gc) await collectGarbage();
  const sampler = settings.sampling ? await AllocationSampler.start(WHERE, settings.sampling.interval) : null;
  const highWaterReset = resetRssHighWater();
  takeNativePeak();
  const t0 = performance.now();
  const samples: MemorySample[] = [{ t: 0, ...readFigures() }];
  // unref: sampling alone must not keep the process alive if fn's promise never settles.
  const timer = setInterval(
    () => samples.push({ t: performance.now() - t0, ...readFigures() }),
    settings.interval,
  ).unref();

  let outcome: { ok: true; value: Awaited<T> } | { ok: false; error: unknown };
  try {
    const returned = fn();
    outcome = { ok: true, value: (isThenable(returned) ? await returned : returned) as Awaited<T> };
  } catch (error) {
    outcome = { ok: false, error };
  }
  clearInterval(timer);
  const durationMs = performance.now() - t0;
  samples.push({ t: durationMs, ...readFigures() });
  const rssPeak = highWaterReset ? rssHighWater() : 0;
  const nativePeak = takeNativePeak();
  const sites = sampler ? await sampler.stop(settings.sampling!.top) : null;

  const { t: _, ...baseline } = samples[0];
  const last = samples[samples.length - 1];
  const peak = mapFigures((key) => samples.reduce((max, s) => Math.max(max, s[key]), -Infinity));
  peak.rss = Math.max(peak.rss, rssPeak);
  peak.native = Math.max(peak.native, nativePeak);
  let retained: MemoryFigures | null = null;
  if (settings.gc) {
    await collectGarbage();
    const after = readFigures();
    retained = mapFigures((key) => after[key] - baseline[key]);
  }
  const profile = {
    durationMs,
    samples,
    baseline,
    peak,
    delta: mapFigures((key) => last[key] - baseline[key]),
    retained,
    sites,
  };
  if (outcome.ok) return { result: outcome.value, ...profile };
  throw attachProfile(outcome.error, { result: undefined, ...profile });
}

// The caller's error, never replaced: a thrown primitive (or frozen object) is wrapped as the cause
// of an Error so the profile has somewhere to live.
function attachProfile(error: unknown, profile: MemoryProfile<undefined>): ProfiledError {
  const extensible =
    (typeof error === 'object' || typeof error === 'function') && error !== null && Object.isExtensible(error);
  const target = extensible
    ? error
    : new Error(`${WHERE}: fn threw ${typeName(error)} ${String(error)}`, { cause: error });
  Object.defineProperty(target, 'profile', { value: profile, enumerable: false, configurable: true, writable: true });
  return target as ProfiledError;
}
