// The piscina entry every Pool worker runs (compiled to dist/pool/worker.js: Node 20 cannot start a
// .ts worker). It loads the user's task module named in workerData, calls the named export, and
// reports errors as plain data so the caller gets back their exact name, message, stack and code.
import { pathToFileURL } from 'node:url';
import { workerData } from 'node:worker_threads';
import { move, transferableSymbol, valueSymbol } from 'piscina';
import { type MemoryProfile, type ProfiledError, profileWith, type ProfileSettings, type TaskMemory } from '../memprof/profile.js';
import { toWireError } from '../core/wire-error.js';
import type { TaskMessage, TaskReply } from './protocol.js';

type TaskModule = Record<string, unknown>;
let loaded: Promise<TaskModule> | null = null;

async function loadModule(file: string): Promise<TaskModule> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as TaskModule;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw error;
    return (await import(pathToFileURL(file).href)) as TaskModule;
  }
}

async function taskFunction(name: string): Promise<(...args: unknown[]) => unknown> {
  const file = (workerData as { taskModule: string }).taskModule;
  loaded ??= loadModule(file);
  const mod = await loaded;
  const fn = mod[name] ?? (mod.default as TaskModule | undefined)?.[name];
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
  return move({ [transferableSymbol]: value[transferableSymbol], [valueSymbol]: { ok: true, value: value[valueSymbol], memory } } as never);
}

function withoutResult({ result: _, ...memory }: MemoryProfile<unknown>): TaskMemory {
  return memory;
}

/** The call under profileMemory: its memory comes back with the value, or with the error. */
async function profiledReply(fn: (...args: unknown[]) => unknown, args: unknown[], settings: ProfileSettings): Promise<unknown> {
  try {
    const profile = await profileWith(() => fn(...args), settings);
    return reply(profile.result, withoutResult(profile));
  } catch (error) {
    const profile = (error as Partial<ProfiledError>).profile;
    return { ok: false, error: toWireError(error), memory: profile && withoutResult(profile) } satisfies TaskReply;
  }
}

export default async function runTask(message: TaskMessage): Promise<unknown> {
  Atomics.store(message.started, 0, 1);
  try {
    const fn = await taskFunction(message.name);
    if (message.chunk === undefined) {
      return message.memory ? await profiledReply(fn, message.args, message.memory) : reply(await fn(...message.args));
    }
    const results: unknown[] = [];
    for (const item of message.chunk) results.push(await fn(item));
    return { ok: true, value: results } satisfies TaskReply;
  } catch (error) {
    return { ok: false, error: toWireError(error) } satisfies TaskReply;
  }
}
