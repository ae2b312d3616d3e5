// A Group spreads calls over gateways, at most `concurrency` at a time on each, with the Pool's
// Future and map conventions. Delivery is at-least-once: when a gateway dies or hangs, the calls it
// was running go back to the front of the queue and run on another gateway (up to `retries` extra
// runs); each task's Future settles exactly once, whatever arrives late, so results are de-duplicated
// by task. A task that throws is not re-run: its Future rejects with the RemoteError.
// With `reconnect`, a member that died or hung (not one that was closed) is opened again with backoff
// under the same id, so a host back from a crash or a partition receives work again; meanwhile queued
// tasks wait for it rather than failing.
import { EventEmitter } from 'node:events';
import { usesRenamedOption } from '../core/deprecate.js';
import { checkKnownOptions } from '../core/options.js';
import { callReporting } from '../core/report.js';
import { setDeadline } from '../core/timeout.js';
import { checkInteger, invalidType, outOfRange, typeName } from '../core/validate.js';
import { GatewayError } from '../core/errors.js';
import type { ResultStream } from '../async/map.js';
import { Future, type FutureControl } from '../core/future.js';
import { Gateway, gatewayOptionNames, openGateway, type GatewayOptions } from './gateway.js';
import { type DistributedMapOptions, mapFutures } from './map.js';
import { serialize } from './protocol.js';

/** Delay before re-open attempt n (1-based): `initial * factor ** (n - 1)` ms, at most `max`. */
export interface ReconnectBackoff {
  /** Milliseconds before the first attempt. Default 1000. */
  initial?: number;
  /** Growth of the delay from one attempt to the next (>= 1). Default 2. */
  factor?: number;
  /** The longest delay, in ms. Default 30000. */
  max?: number;
}

export interface ReconnectOptions {
  /** Re-open attempts after a member is lost, counted afresh for each loss (Infinity: until closed). Default 5. */
  retries?: number;
  /** A number is `{ initial: number }`. Default `{ initial: 1000, factor: 2, max: 30000 }`. */
  backoff?: number | ReconnectBackoff;
}

export interface GroupOptions {
  /** Calls in flight on each gateway at once. Default 1 (a gateway is one single-threaded process). */
  concurrency?: number;
  /** Extra runs of a task after its gateway died or hung (0: run once). Default 2. */
  retries?: number;
  /** @deprecated Use `retries` (= maxAttempts - 1): runs of one task, re-runs included. */
  maxAttempts?: number;
  /** Re-open members that die or hang, with backoff, under the same id. Default: never. */
  reconnect?: ReconnectOptions;
}

export interface GroupStats {
  queued: number;
  running: number;
  completed: number;
  failed: number;
  /** Tasks sent again because the gateway running them died or hung. */
  reruns: number;
  /** Gateways alive now. */
  alive: number;
  /** Lost members opened again (`reconnect`). */
  reconnects: number;
}

/** 'memberLost': a member died or hung (not closed); `reconnecting` says whether it will be opened again. */
export interface MemberLostEvent {
  id: string;
  error: GatewayError;
  reconnecting: boolean;
}

/** 'reconnect': a lost member is open again: `gateway` (same id), after `attempt` attempts, `downMs` after its loss. */
export interface ReconnectEvent {
  id: string;
  gateway: Gateway;
  attempt: number;
  downMs: number;
}

/** 'reconnectFailed': every re-open attempt failed; the member stays out of the group. */
export interface ReconnectFailedEvent {
  id: string;
  error: Error;
  attempts: number;
}

/** The events a Group emits, with their payloads (`group.on('reconnect', (event) => ...)` is typed). */
export interface GroupEvents {
  memberLost: [MemberLostEvent];
  reconnect: [ReconnectEvent];
  reconnectFailed: [ReconnectFailedEvent];
}

interface Task {
  readonly module: string;
  readonly exportName: string;
  readonly args: unknown[];
  readonly future: Future<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  readonly control: FutureControl;
  runs: number;
}

/** One seat of the group: its id stays while the gateway behind it is replaced by reconnection. */
interface Member {
  readonly id: string;
  gateway: Gateway;
  reconnecting: boolean;
}

interface ReconnectPolicy {
  retries: number;
  initial: number;
  factor: number;
  max: number;
}

const groupOptionNames = ['concurrency', 'retries', 'maxAttempts', 'reconnect'];

function checkTaskNames(where: string, module: unknown, exportName: unknown): void {
  for (const [name, value] of [
    ['module', module],
    ['exportName', exportName],
  ] as const) {
    if (typeof value !== 'string' || value === '')
      throw new TypeError(`${where}: ${name} must be a non-empty string, got ${typeName(value)}`);
  }
}

function checkDelay(where: string, name: string, value: unknown, min: number, allowInfinity: boolean): number {
  if (typeof value !== 'number') throw invalidType(where, name, 'a number', value);
  if (!(value >= min) || (!allowInfinity && value === Infinity)) {
    const expected = `a number >= ${min}${allowInfinity ? ' (or Infinity)' : ''}`;
    throw outOfRange(where, name, expected, String(value));
  }
  return value;
}

interface GroupSettings {
  concurrency: number;
  retries: number;
  reconnect: ReconnectPolicy | null;
}

function reconnectPolicy(where: string, reconnect: unknown): ReconnectPolicy | null {
  if (reconnect === undefined) return null;
  const opts = checkKnownOptions(`${where}: reconnect`, reconnect, ['retries', 'backoff']);
  let retries = 5;
  if (opts.retries === Infinity) retries = Infinity;
  else if (opts.retries !== undefined) retries = checkInteger(where, 'reconnect.retries', opts.retries, 0);
  const backoff = typeof opts.backoff === 'number' ? { initial: opts.backoff } : opts.backoff;
  const b = checkKnownOptions(`${where}: reconnect.backoff`, backoff, ['initial', 'factor', 'max']);
  const initial = b.initial === undefined ? 1000 : checkDelay(where, 'reconnect.backoff.initial', b.initial, 0, false);
  const factor = b.factor === undefined ? 2 : checkDelay(where, 'reconnect.backoff.factor', b.factor, 1, false);
  if (b.max === undefined) return { retries, initial, factor, max: Math.max(30_000, initial) };
  const max = checkDelay(where, 'reconnect.backoff.max', b.max, 0, true);
  if (max < initial)
    throw outOfRange(where, 'reconnect.backoff.max', `>= reconnect.backoff.initial (${initial})`, String(max));
  return { retries, initial, factor, max };
}

function groupSettings(where: string, options: unknown): GroupSettings {
  const opts = checkKnownOptions(where, options, groupOptionNames);
  const concurrency = opts.concurrency === undefined ? 1 : checkInteger(where, 'concurrency', opts.concurrency, 1);
  const renamed = { old: 'maxAttempts', new: 'retries' };
  let retries = 2;
  if (usesRenamedOption(where, opts, renamed, 'HOTPATH_DEP_GROUP_MAX_ATTEMPTS', 'retries = maxAttempts - 1'))
    retries = checkInteger(where, 'maxAttempts', opts.maxAttempts, 1) - 1;
  else if (opts.retries !== undefined) retries = checkInteger(where, 'retries', opts.retries, 0);
  return { concurrency, retries, reconnect: reconnectPolicy(where, opts.reconnect) };
}

export class Group extends EventEmitter<GroupEvents> {
  readonly #members: Member[];
  readonly #concurrency: number;
  readonly #retries: number;
  readonly #reconnect: ReconnectPolicy | null;
  readonly #queue: Task[] = [];
  readonly #running = new Map<Gateway, number>();
  readonly #counts = { completed: 0, failed: 0, reruns: 0, reconnects: 0 };
  /** Aborted by close(): stops backoff waits and connection attempts in progress. */
  readonly #closing = new AbortController();
  readonly #reopening = new Set<Promise<void>>();
  /** Holds the process open while tasks wait for a member that is reconnecting (nothing else may). */
  #keepAlive: NodeJS.Timeout | null = null;
  #closedError: Error | null = null;

  /** A group over gateways that are already open; closing the group closes them. */
  constructor(gateways: Gateway[], options?: GroupOptions) {
    super();
    if (!Array.isArray(gateways) || gateways.length === 0) {
      throw new TypeError(`Group: gateways must be a non-empty array of Gateway, got ${typeName(gateways)}`);
    }
    gateways.forEach((g, i) => {
      if (!(g instanceof Gateway)) throw new TypeError(`Group: gateways[${i}] must be a Gateway, got ${typeName(g)}`);
    });
    const settings = groupSettings('Group', options);
    this.#concurrency = settings.concurrency;
    this.#retries = settings.retries;
    this.#reconnect = settings.reconnect;
    this.#members = gateways.map((gateway) => ({ id: gateway.id, gateway, reconnecting: false }));
    for (const member of this.#members) this.#watch(member);
  }

  /**
   * Opens one gateway per target (e.g. `['spawn', 'spawn', 'ssh://build@host']`) and groups them.
   * If any fails to open, the others are closed and the error is thrown.
   */
  static async open(targets: string[], options?: GatewayOptions & GroupOptions): Promise<Group> {
    if (!Array.isArray(targets) || targets.length === 0) {
      throw new TypeError(`Group.open: targets must be a non-empty array of strings, got ${typeName(targets)}`);
    }
    const opts = checkKnownOptions('Group.open', options, [...groupOptionNames, ...gatewayOptionNames]);
    const groupOptions: Record<string, unknown> = {};
    const gatewayOptions: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(opts)) {
      if (groupOptionNames.includes(key)) groupOptions[key] = value;
      else gatewayOptions[key] = value;
    }
    groupSettings('Group.open', groupOptions); // checked before any process starts
    const opened = await Promise.allSettled(targets.map((t) => openGateway(t, gatewayOptions)));
    const gateways = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await Promise.all(gateways.map((g) => g.close()));
      throw failure.reason;
    }
    return new Group(gateways, groupOptions);
  }

  /** Runs `exportName(...args)` from `module` on some gateway. */
  submit<T = unknown>(module: string, exportName: string, ...args: unknown[]): Future<T> {
    checkTaskNames('Group.submit', module, exportName);
    serialize('Group.submit', args);
    let settle!: Pick<Task, 'resolve' | 'reject' | 'control'>;
    const future = new Future<T>((resolve, reject, control) => {
      settle = { resolve: resolve as (value: unknown) => void, reject, control };
    });
    if (this.#closedError) {
      settle.reject(this.#closedError);
      return future;
    }
    this.#queue.push({ module, exportName, args, future: future as Future<unknown>, ...settle, runs: 0 });
    this.#dispatch();
    return future;
  }

  /**
   * `exportName(item)` for each item of a sync or async iterable, spread over the gateways, as the
   * Pool's map: read lazily, `concurrency` in flight (default: twice the group's slots).
   */
  map<R = unknown>(
    module: string,
    exportName: string,
    items: Iterable<unknown> | AsyncIterable<unknown>,
    options?: DistributedMapOptions,
  ): ResultStream<R> {
    checkTaskNames('Group.map', module, exportName);
    const slots = this.#members.length * this.#concurrency;
    return mapFutures<unknown, R>(
      'Group.map',
      items,
      (item) => this.submit<R>(module, exportName, item),
      options,
      2 * slots,
    );
  }

  /** Every member's gateway, alive or not, in the order given (a reconnected member's new one in its place). */
  get gateways(): readonly Gateway[] {
    return this.#members.map((m) => m.gateway);
  }

  /** The gateways alive now: a member leaves when it dies, hangs or is closed (and is back once reconnected). */
  get members(): Gateway[] {
    return this.gateways.filter((g) => g.alive);
  }

  /** How many members are alive (execnet's len(group)). */
  get size(): number {
    return this.members.length;
  }

  /**
   * The live member with this id (gateway.id, e.g. 'spawn#3', kept across reconnection), or undefined
   * (execnet's group[id]).
   */
  get(id: string): Gateway | undefined {
    if (typeof id !== 'string') throw new TypeError(`Group.get: id must be a string, got ${typeName(id)}`);
    return this.members.find((g) => g.id === id);
  }

  /** A fresh snapshot of the group's counters. */
  stats(): GroupStats {
    let running = 0;
    for (const n of this.#running.values()) running += n;
    return { queued: this.#queue.length, running, ...this.#counts, alive: this.size };
  }

  /** Rejects queued tasks, stops reconnecting, closes every gateway (running tasks reject with its GatewayError). */
  async close(): Promise<void> {
    this.#closedError ??= new Error('Group.close: the group was closed before this task ran');
    this.#closing.abort(this.#closedError);
    this.#holdOpen(false);
    for (const task of this.#queue.splice(0)) task.reject(this.#closedError);
    await Promise.all([...this.#reopening]);
    await Promise.all(this.gateways.map((g) => g.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #watch(member: Member): void {
    const gateway = member.gateway;
    this.#running.set(gateway, 0);
    gateway.once('dead', (error: GatewayError) => {
      if (member.gateway === gateway && !gateway.closing && !this.#closedError) this.#lost(member, error);
      this.#dispatch();
    });
  }

  #lost(member: Member, error: GatewayError): void {
    const reconnecting = this.#reconnect !== null && this.#reconnect.retries > 0;
    member.reconnecting = reconnecting;
    this.#emit('memberLost', { id: member.id, error, reconnecting });
    if (!reconnecting) return;
    const reopening = this.#reopen(member, error).finally(() => this.#reopening.delete(reopening));
    this.#reopening.add(reopening);
  }

  /** Re-opens a lost member: `retries` attempts, each after its backoff delay, until one answers or the group
   * closes. */
  async #reopen(member: Member, error: Error): Promise<void> {
    const policy = this.#reconnect as ReconnectPolicy;
    const lostAt = Date.now();
    let lastError = error;
    for (let attempt = 1; attempt <= policy.retries; attempt++) {
      const delay = Math.min(policy.max, policy.initial * policy.factor ** (attempt - 1));
      if (!(await this.#pause(delay))) return;
      try {
        member.gateway = await Gateway.reopen(member.gateway, this.#closing.signal);
      } catch (reason) {
        if (this.#closedError) return;
        lastError = reason as Error;
        continue;
      }
      if (this.#closedError) return; // close() closes the new gateway
      member.reconnecting = false;
      this.#counts.reconnects++;
      this.#watch(member);
      const event: ReconnectEvent = { id: member.id, gateway: member.gateway, attempt, downMs: Date.now() - lostAt };
      this.#emit('reconnect', event);
      this.#dispatch();
      return;
    }
    member.reconnecting = false;
    const failed: ReconnectFailedEvent = { id: member.id, error: lastError, attempts: policy.retries };
    this.#emit('reconnectFailed', failed);
    this.#dispatch();
  }

  /** Waits `ms` (without holding the process open); false if the group closed meanwhile. */
  #pause(ms: number): Promise<boolean> {
    const signal = this.#closing.signal;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => {
        deadline.clear();
        resolve(false);
      };
      const deadline = setDeadline(
        () => {
          signal.removeEventListener('abort', onAbort);
          resolve(true);
        },
        ms,
        { ref: false },
      );
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Listeners that throw are reported as warnings: reconnection goes on. */
  #emit<E extends keyof GroupEvents>(event: E, payload: GroupEvents[E][0]): void {
    for (const listener of this.listeners(event))
      callReporting(`Group '${event}' listener`, listener as (p: GroupEvents[E][0]) => void, payload);
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const gateway = this.#idlestGateway();
      if (!gateway) break;
      const task = this.#queue.shift() as Task;
      if (!task.future.done) this.#start(gateway, task);
    }
    if (this.#queue.length > 0 && !this.#members.some((m) => m.gateway.alive || m.reconnecting)) {
      const last = this.#members.map((m) => m.gateway.error?.message).join('; ');
      const error = new GatewayError(`group of ${this.#members.length}`, `every gateway is dead (${last})`);
      for (const task of this.#queue.splice(0)) task.reject(error);
    }
    this.#holdOpen(this.#queue.length > 0 && !this.#closedError);
  }

  /**
   * Queued tasks keep the process alive, as a Pool's do, also while the members they wait for are reconnecting
   * (an idle group, like an idle gateway, does not).
   */
  #holdOpen(hold: boolean): void {
    if (hold && this.#keepAlive === null) this.#keepAlive = setInterval(() => {}, 2 ** 30);
    else if (!hold && this.#keepAlive !== null) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = null;
    }
  }

  #idlestGateway(): Gateway | undefined {
    let best: Gateway | undefined;
    let bestLoad = Infinity;
    for (const { gateway } of this.#members) {
      const load = this.#running.get(gateway) as number;
      if (gateway.alive && load < this.#concurrency && load < bestLoad) {
        best = gateway;
        bestLoad = load;
      }
    }
    return best;
  }

  #start(gateway: Gateway, task: Task): void {
    task.runs++;
    task.control.markRunning();
    const channel = gateway.startCall(task.module, task.exportName, task.args);
    this.#running.set(gateway, (this.#running.get(gateway) as number) + 1);
    const abandon = () => channel.close();
    task.control.signal.addEventListener('abort', abandon);
    channel
      .receive()
      .then(
        (value) => {
          if (!task.future.done) this.#counts.completed++;
          task.resolve(value);
        },
        (error: unknown) => {
          if (error instanceof GatewayError && !this.#closedError && !task.future.done && task.runs <= this.#retries) {
            this.#counts.reruns++;
            this.#queue.unshift(task);
            return;
          }
          if (!task.future.done) this.#counts.failed++;
          task.reject(error);
        },
      )
      .finally(() => {
        task.control.signal.removeEventListener('abort', abandon);
        const left = (this.#running.get(gateway) as number) - 1;
        // A replaced gateway leaves the table once its last call has ended.
        if (left === 0 && !gateway.alive) this.#running.delete(gateway);
        else this.#running.set(gateway, left);
        this.#dispatch();
      });
  }
}
