// The piscina entry every Pool worker runs (compiled to dist/pool/worker.js: Node 20 cannot start a
// .ts worker). It loads the user's task module named in workerData, calls the named export, and
// reports errors as plain data so the caller gets back their exact name, message, stack and code.
import { pathToFileURL } from 'node:url';
import { threadId, workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import type { MemoryProfile, ProfiledError, ProfileSettings, TaskMemory } from '../memprof/profile.js';
import { toWireError } from '../core/wire-error.js';
import type { ChunkResults, PoolWorkerData, TaskMessage, TaskReply } from './protocol.js';

type TaskModule = Record<string, unknown>;
const settings = workerData as PoolWorkerData;
let loaded: Promise<TaskModule> | null = null;
/** Set when the initializer threw: every task reports it, and the Pool turns broken. */
let initFailure: unknown = null;
let tasksRun = 0;

async function loadModule(file: string): Promise<TaskModule> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as TaskModule;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw error;
    return (await import(pathToFileURL(file).href)) as TaskModule;
  }
}

function exported(mod: TaskModule, name: string): unknown {
  return mod[name] ?? (mod.default as TaskModule | undefined)?.[name];
}

/** The task module, with the initializer run once (concurrent.futures' initializer/initargs). */
async function loadAndInitialize(file: string): Promise<TaskModule> {
  const mod = await loadModule(file);
  if (settings.initializer !== undefined) {
    const init = exported(mod, settings.initializer);
    if (typeof init !== 'function')
      throw new TypeError(`Pool: initializer '${settings.initializer}' is not a function exported by ${file}`);
    await init(...(settings.initargs ?? []));
  }
  return mod;
}

async function taskFunction(name: string): Promise<(...args: unknown[]) => unknown> {
  const file = settings.taskModule;
  loaded ??= loadAndInitialize(file).catch((error: unknown) => {
    if (settings.initializer !== undefined) initFailure = error;
    throw error;
  });
  const mod = await loaded;
  const fn = exported(mod, name);
  if (typeof fn !== 'function') throw new TypeError(`Pool: '${name}' is not a function exported by ${file}`);
  return fn as (...args: unknown[]) => unknown;
}

interface Movable {
  [transferableSymbol]: unknown;
  [valueSymbol]: unknown;
}

function isMovable(value: unknown): value is Movable {
  return value !== null && typeof value === 'object' && transferableSymbol in value && valueSymbol in value;
}

/** Wraps a reply, keeping the transfer list of a result the task marked with transfer(). */
function reply(value: unknown, memory?: TaskMemory): unknown {
  if (!isMovable(value)) return { ok: true, value, memory } satisfies TaskReply;
  return move({
    [transferableSymbol]: value[transferableSymbol],
    [valueSymbol]: { ok: true, value: value[valueSymbol], memory },
  } as never);
}

function withoutResult({ result: _, ...memory }: MemoryProfile<unknown>): TaskMemory {
  return memory;
}

/**
 * The call under profileMemory: its memory comes back with the value, or with the error. Memory
 * profiling (the addon, node:inspector) is loaded on the first task that asks for it, not by every worker.
 */
async function profiledReply(
  fn: (...args: unknown[]) => unknown,
  args: unknown[],
  settings: ProfileSettings,
): Promise<unknown> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { profileWith } = require('../memprof/profile.js') as typeof import('../memprof/profile.js');
  try {
    const profile = await profileWith(() => fn(...args), settings);
    return reply(profile.result, withoutResult(profile));
  } catch (error) {
    const profile = (error as Partial<ProfiledError>).profile;
    return { ok: false, error: toWireError(error), memory: profile && withoutResult(profile) } satisfies TaskReply;
  }
}

/** Every item's result up to the first failure, and that failure: ordered maps yield the results before it. */
async function runChunk(fn: (...args: unknown[]) => unknown, message: TaskMessage): Promise<ChunkResults> {
  const results: unknown[] = [];
  for (const item of message.chunk as unknown[]) {
    try {
      results.push(await (message.spread ? fn(...(item as unknown[])) : fn(item)));
    } catch (error) {
      return { results, error: toWireError(error) };
    }
  }
  return { results };
}

/**
 * Runs one task. With maxTasksPerChild, the reply to the last task this worker may run carries its
 * threadId as `retire`: the Pool then terminates this worker (piscina starts a fresh one). A task
 * that reaches it before that is not started but answered 'retired', and the Pool sends it again.
 */
export default async function runTask(message: TaskMessage): Promise<unknown> {
  const limit = settings.maxTasksPerChild;
  if (limit !== undefined && tasksRun >= limit) return { ok: false, retired: true } satisfies TaskReply;
  tasksRun++;
  const outcome = await runStarted(message);
  if (limit === undefined || tasksRun < limit) return outcome;
  const plain = (isMovable(outcome) ? outcome[valueSymbol] : outcome) as { retire?: number };
  plain.retire = threadId;
  return outcome;
}

async function runStarted(message: TaskMessage): Promise<unknown> {
  Atomics.store(message.started, 0, 1);
  try {
    const fn = await taskFunction(message.name);
    if (message.chunk === undefined) {
      return message.memory ? await profiledReply(fn, message.args, message.memory) : reply(await fn(...message.args));
    }
    return { ok: true, value: await runChunk(fn, message) } satisfies TaskReply;
  } catch (error) {
    return {
      ok: false,
      error: toWireError(error),
      ...(initFailure === null ? {} : { broken: true as const }),
    } satisfies TaskReply;
  }
}
