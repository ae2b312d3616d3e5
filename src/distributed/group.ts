// A Group spreads calls over gateways, at most `concurrency` at a time on each, with the Pool's
// Future and map conventions. Delivery is at-least-once: when a gateway dies or hangs, the calls it
// was running go back to the front of the queue and run on another gateway (up to maxAttempts);
// each task's Future settles exactly once, whatever arrives late, so results are de-duplicated by
// task. A task that throws is not re-run: its Future rejects with the RemoteError.
import { checkKnownOptions } from '../core/options.js';
import { checkInteger, typeName } from '../core/validate.js';
import { GatewayError } from '../core/errors.js';
import type { ResultStream } from '../async/map.js';
import { Future, type FutureControl } from '../core/future.js';
import { Gateway, gatewayOptionNames, openGateway, type GatewayOptions } from './gateway.js';
import { type DistributedMapOptions, mapFutures } from './map.js';
import { serialize } from './protocol.js';

export interface GroupOptions {
  /** Calls in flight on each gateway at once. Default 1 (a gateway is one single-threaded process). */
  concurrency?: number;
  /** Runs of one task, counting re-runs after its gateway died or hung. Default 3. */
  maxAttempts?: number;
}

export interface GroupStats {
  queued: number;
  running: number;
  completed: number;
  failed: number;
  /** Tasks sent again because the gateway running them died or hung. */
  reruns: number;
  /** Gateways still alive. */
  alive: number;
}

interface Task {
  readonly module: string;
  readonly exportName: string;
  readonly args: unknown[];
  readonly future: Future<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  readonly control: FutureControl;
  attempts: number;
}

function checkTaskNames(where: string, module: unknown, exportName: unknown): void {
  for (const [name, value] of [['module', module], ['exportName', exportName]] as const) {
    if (typeof value !== 'string' || value === '') throw new TypeError(`${where}: ${name} must be a non-empty string, got ${typeName(value)}`);
  }
}

export class Group {
  readonly gateways: readonly Gateway[];
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly queue: Task[] = [];
  private readonly running = new Map<Gateway, number>();
  private readonly counts = { completed: 0, failed: 0, reruns: 0 };
  private closedError: Error | null = null;

  /** A group over gateways that are already open; closing the group closes them. */
  constructor(gateways: Gateway[], options?: GroupOptions) {
    if (!Array.isArray(gateways) || gateways.length === 0) {
      throw new TypeError(`Group: gateways must be a non-empty array of Gateway, got ${typeName(gateways)}`);
    }
    gateways.forEach((g, i) => {
      if (!(g instanceof Gateway)) throw new TypeError(`Group: gateways[${i}] must be a Gateway, got ${typeName(g)}`);
    });
    const opts = checkKnownOptions('Group', options, ['concurrency', 'maxAttempts']);
    this.concurrency = opts.concurrency === undefined ? 1 : checkInteger('Group', 'concurrency', opts.concurrency, 1);
    this.maxAttempts = opts.maxAttempts === undefined ? 3 : checkInteger('Group', 'maxAttempts', opts.maxAttempts, 1);
    this.gateways = [...gateways];
    for (const gateway of this.gateways) {
      this.running.set(gateway, 0);
      gateway.on('dead', () => this.dispatch());
    }
  }

  /**
   * Opens one gateway per target (e.g. `['spawn', 'spawn', 'ssh://build@host']`) and groups them.
   * If any fails to open, the others are closed and the error is thrown.
   */
  static async open(targets: string[], options?: GatewayOptions & GroupOptions): Promise<Group> {
    if (!Array.isArray(targets) || targets.length === 0) {
      throw new TypeError(`Group.open: targets must be a non-empty array of strings, got ${typeName(targets)}`);
    }
    const known = ['concurrency', 'maxAttempts', ...gatewayOptionNames];
    const { concurrency, maxAttempts, ...gatewayOptions } = checkKnownOptions('Group.open', options, known) as GatewayOptions & GroupOptions;
    const opened = await Promise.allSettled(targets.map((t) => openGateway(t, gatewayOptions)));
    const gateways = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failure = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await Promise.all(gateways.map((g) => g.close()));
      throw failure.reason;
    }
    return new Group(gateways, { concurrency, maxAttempts });
  }

  /** Runs `exportName(...args)` from `module` on some gateway. */
  submit<T = unknown>(module: string, exportName: string, ...args: unknown[]): Future<T> {
    checkTaskNames('Group.submit', module, exportName);
    serialize('Group.submit', args);
    let settle!: Pick<Task, 'resolve' | 'reject' | 'control'>;
    const future = new Future<T>((resolve, reject, control) => {
      settle = { resolve: resolve as (value: unknown) => void, reject, control };
    });
    if (this.closedError) {
      settle.reject(this.closedError);
      return future;
    }
    this.queue.push({ module, exportName, args, future: future as Future<unknown>, ...settle, attempts: 0 });
    this.dispatch();
    return future;
  }

  /**
   * `exportName(item)` for each item of a sync or async iterable, spread over the gateways, as the
   * Pool's map: read lazily, `concurrency` in flight (default: twice the group's slots).
   */
  map<R = unknown>(module: string, exportName: string, items: Iterable<unknown> | AsyncIterable<unknown>, options?: DistributedMapOptions): ResultStream<R> {
    checkTaskNames('Group.map', module, exportName);
    const slots = this.gateways.length * this.concurrency;
    return mapFutures<unknown, R>('Group.map', items, (item) => this.submit<R>(module, exportName, item), options, 2 * slots);
  }

  /** The gateways still alive: a member leaves the group when it dies, hangs or is closed. */
  get members(): Gateway[] {
    return this.gateways.filter((g) => g.alive);
  }

  /** How many members are alive (execnet's len(group)). */
  get size(): number {
    return this.members.length;
  }

  /** The live member with this id (gateway.id, e.g. 'spawn#3'), or undefined (execnet's group[id]). */
  get(id: string): Gateway | undefined {
    if (typeof id !== 'string') throw new TypeError(`Group.get: id must be a string, got ${typeName(id)}`);
    return this.members.find((g) => g.id === id);
  }

  get stats(): GroupStats {
    let running = 0;
    for (const n of this.running.values()) running += n;
    return { queued: this.queue.length, running, ...this.counts, alive: this.gateways.filter((g) => g.alive).length };
  }

  /** Rejects queued tasks, closes every gateway (running tasks reject with its GatewayError). */
  async close(): Promise<void> {
    this.closedError ??= new Error('Group.close: the group was closed before this task ran');
    for (const task of this.queue.splice(0)) task.reject(this.closedError);
    await Promise.all(this.gateways.map((g) => g.close()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const gateway = this.idlestGateway();
      if (!gateway) break;
      const task = this.queue.shift() as Task;
      if (!task.future.done) this.start(gateway, task);
    }
    if (this.queue.length > 0 && !this.gateways.some((g) => g.alive)) {
      const last = this.gateways.map((g) => g.error?.message).join('; ');
      const error = new GatewayError(`group of ${this.gateways.length}`, `every gateway is dead (${last})`);
      for (const task of this.queue.splice(0)) task.reject(error);
    }
  }

  private idlestGateway(): Gateway | undefined {
    let best: Gateway | undefined;
    for (const gateway of this.gateways) {
      const n = this.running.get(gateway) as number;
      if (gateway.alive && n < this.concurrency && (best === undefined || n < (this.running.get(best) as number))) best = gateway;
    }
    return best;
  }

  private start(gateway: Gateway, task: Task): void {
    task.attempts++;
    task.control.markRunning();
    const channel = gateway.startCall(task.module, task.exportName, task.args);
    this.running.set(gateway, (this.running.get(gateway) as number) + 1);
    const abandon = () => channel.close();
    task.control.signal.addEventListener('abort', abandon);
    channel.receive().then(
      (value) => {
        if (!task.future.done) this.counts.completed++;
        task.resolve(value);
      },
      (error: unknown) => {
        if (error instanceof GatewayError && !this.closedError && !task.future.done && task.attempts < this.maxAttempts) {
          this.counts.reruns++;
          this.queue.unshift(task);
          return;
        }
        if (!task.future.done) this.counts.failed++;
        task.reject(error);
      },
    ).finally(() => {
      task.control.signal.removeEventListener('abort', abandon);
      this.running.set(gateway, (this.running.get(gateway) as number) - 1);
      this.dispatch();
    });
  }
}
