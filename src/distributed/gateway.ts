// Gateways, execnet's model for Node: a child Node process started locally ('spawn') or on another
// machine through the system ssh client ('ssh://user@host:port'), both speaking the framed protocol
// of protocol.ts over stdio. The opener names module exports to run there; channels carry data.
// Liveness: the opener pings every heartbeatInterval; a gateway silent for heartbeatTimeout is
// declared hung and killed, one whose process exits is dead, and either way its open channels end
// with a GatewayError (the Group re-runs their tasks elsewhere).
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { checkKnownOptions } from '../core/options.js';
import { checkTimeout, MAX_TIMER_MS, setDeadline } from '../core/timeout.js';
import { checkBoolean, checkInteger, typeName } from '../core/validate.js';
import { Channel, type ChannelPort } from './channel.js';
import { ChannelClosedError, GatewayError, RemoteError } from '../core/errors.js';
import { encodeFrame, FrameDecoder, type ExecMode, type ParentMessage, type RemoteMessage } from './protocol.js';
import { checkSshArgs } from './ssh-args.js';

export interface GatewayOptions {
  /** Node binary that runs the remote side. Default: this process's binary for 'spawn', `node` for ssh. */
  node?: string;
  /** Private key for ssh (`ssh -i`). */
  identityFile?: string;
  /**
   * Extra ssh client arguments, e.g. `['-o', 'UserKnownHostsFile=/path/known_hosts']`: -4 -6 -C -q -v
   * and `-o` connection options only (no ProxyCommand, LocalCommand, -F ...), unless `unsafeSshArgs`.
   */
  sshArgs?: string[];
  /** Pass `sshArgs` to ssh unchecked: options that run local commands included. Default false. */
  unsafeSshArgs?: boolean;
  /**
   * Working directory of the remote process: relative module paths and package names resolve from
   * it. Default: this process's cwd for 'spawn', the login directory for ssh.
   */
  cwd?: string;
  /** Path of the remote entry script on the target. Default: this package's dist/distributed/remote.js. */
  remoteScript?: string;
  /** Environment of a 'spawn' gateway. Default: process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Milliseconds for the remote side to start and answer before openGateway rejects (Infinity: no limit).
   * Default 15000.
   */
  connectTimeout?: number;
  /** Milliseconds between pings. Default 1000. */
  heartbeatInterval?: number;
  /**
   * Milliseconds without any message from the remote side before it is declared hung and killed
   * (Infinity: never). Default 10000. A task that blocks the remote event loop longer than this looks hung.
   */
  heartbeatTimeout?: number;
}

/** Every option openGateway accepts (Group.open takes these too). */
export const gatewayOptionNames: readonly (keyof GatewayOptions)[] = [
  'node',
  'identityFile',
  'sshArgs',
  'unsafeSshArgs',
  'cwd',
  'remoteScript',
  'env',
  'connectTimeout',
  'heartbeatInterval',
  'heartbeatTimeout',
];

/** What the remote side reported when it started. */
export interface GatewayInfo {
  pid: number;
  hostname: string;
  node: string;
}

const defaultRemoteScript = path.join(__dirname, 'remote.js');
const STDERR_TAIL_BYTES = 2048;
const EXIT_GRACE_MS = 2000;
let gatewayCount = 0;

interface LaunchPlan {
  command: string;
  args: string[];
  cwd?: string;
}

function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function checkString(where: string, name: string, value: unknown): string {
  if (typeof value !== 'string') throw new TypeError(`${where}: ${name} must be a string, got ${typeName(value)}`);
  if (value === '') throw new RangeError(`${where}: ${name} must not be empty`);
  return value;
}

function launchPlan(target: string, options: GatewayOptions): LaunchPlan {
  const script = options.remoteScript ?? defaultRemoteScript;
  if (target === 'spawn') return { command: options.node ?? process.execPath, args: [script], cwd: options.cwd };
  const { user, host, port } = parseSshTarget(target);
  const args = ['-T', '-o', 'BatchMode=yes'];
  // Infinity (no limit) is passed as undefined: ssh then waits as long as TCP does.
  if (options.connectTimeout !== undefined)
    args.push('-o', `ConnectTimeout=${Math.max(1, Math.ceil(options.connectTimeout / 1000))}`);
  if (port !== undefined) args.push('-p', port);
  if (options.identityFile !== undefined) args.push('-i', options.identityFile);
  args.push(...(options.sshArgs ?? []));
  // `--` ends ssh's options before the destination: nothing of the target can be read as an option.
  args.push('--', user === undefined ? host : `${user}@${host}`);
  const remote = [options.node ?? 'node', script, ...(options.cwd === undefined ? [] : ['--cwd', options.cwd])];
  args.push(remote.map(shellQuote).join(' '));
  return { command: 'ssh', args };
}

// User names as useradd accepts them (POSIX portable characters, not starting with '-'), DNS host names
// and IPv4 literals (letters, digits, '-', '.'; no label starts with '-'), bracketed IPv6 literals.
const SSH_USER = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$/;
const SSH_HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const SSH_IPV6 = /^\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._-]+)?\]$/;

/**
 * 'ssh://[user@]host[:port]' checked part by part against a strict grammar, so that no part of a target can
 * reach ssh as an option or a config directive (`ssh://-oProxyCommand=...@host` is a RangeError). Exported for
 * the tests.
 */
export function parseSshTarget(target: string): { user?: string; host: string; port?: string } {
  const bad = (why: string) =>
    new RangeError(`openGateway: target must be 'spawn' or 'ssh://[user@]host[:port]' (${why}), got '${target}'`);
  const match = /^ssh:\/\/(?:([^@/?#]*)@)?(\[[^\]]*\]|[^:/?#@]*)(?::([^/?#]*))?\/?$/.exec(target);
  if (!match) throw bad('not an ssh URL of that form');
  const [, rawUser, rawHost, port] = match;
  let user: string | undefined;
  if (rawUser !== undefined) {
    try {
      user = decodeURIComponent(rawUser);
    } catch {
      throw bad('the user part is not valid percent-encoding');
    }
    if (!SSH_USER.test(user)) throw bad(`user '${user}' is not a valid user name`);
  }
  if (!(SSH_HOST.test(rawHost) || SSH_IPV6.test(rawHost)))
    throw bad(`host '${rawHost}' is not a host name or IP address`);
  if (port !== undefined && !(/^\d{1,5}$/.test(port) && Number(port) >= 1 && Number(port) <= 65535))
    throw bad(`port '${port}' is not 1..65535`);
  return { user, host: rawHost.replace(/^\[(.*)\]$/, '$1'), port };
}

export class Gateway extends EventEmitter {
  /** Names this gateway in errors: its target and a process-wide sequence number (kept when a Group re-opens it). */
  readonly id: string;
  /** What the remote side reported at start; null until it has answered. */
  info: GatewayInfo | null = null;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #channels = new Map<number, Channel>();
  readonly #port: ChannelPort;
  readonly #exited: Promise<void>;
  readonly #heartbeatInterval: number;
  readonly #heartbeatTimeout: number;
  #heartbeat: NodeJS.Timeout | undefined;
  #nextChannelId = 1;
  #lastSeen = Date.now();
  #lastTick = Date.now();
  #stderrTail = '';
  #failure: GatewayError | null = null;
  /** The checked options it was opened with: a Group re-opens a lost member with them. */
  readonly #options: GatewayOptions;
  #closing = false;

  private constructor(
    readonly target: string,
    plan: LaunchPlan,
    options: GatewayOptions,
    id?: string,
  ) {
    super();
    this.id = id ?? `${target}#${++gatewayCount}`;
    this.#options = options;
    this.#heartbeatInterval = options.heartbeatInterval ?? 1000;
    this.#heartbeatTimeout = options.heartbeatTimeout ?? 10_000;
    this.#port = {
      label: `gateway ${this.id}`,
      post: (message) => this.#post(message as ParentMessage),
      release: (id) => {
        this.#channels.delete(id);
        this.#setActive(this.#channels.size > 0);
      },
    };
    this.#child = spawn(plan.command, plan.args, { cwd: plan.cwd, env: options.env ?? process.env, stdio: 'pipe' });
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', () => resolve());
      this.#child.once('error', () => resolve());
    });
    const decoder = new FrameDecoder((message) => this.#onMessage(message as RemoteMessage));
    this.#child.stdout.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
      } catch (error) {
        this.#fail(`protocol error (is something on the remote side writing to stdout?): ${(error as Error).message}`);
      }
    });
    // The remote side's stdout and stderr (user code's console.log, raw writes to fd 1 or 2) arrive
    // here: 'output' listeners get them, else they go to this process's stderr.
    this.#child.stderr.on('data', (chunk: Buffer) => {
      this.#stderrTail = (this.#stderrTail + chunk.toString()).slice(-STDERR_TAIL_BYTES);
      if (this.listenerCount('output') > 0) this.emit('output', chunk);
      else process.stderr.write(chunk);
    });
    this.#child.stdin.on('error', () => {}); // EPIPE after the child died: reported by 'exit' below.
    this.#child.once('error', (error) => this.#fail(`cannot run '${plan.command}': ${error.message}`));
    this.#child.once('exit', (code, signal) => this.#fail(signal ? `exited on ${signal}` : `exited with code ${code}`));
  }

  /**
   * @internal Use openGateway(). `id` names a re-opened Group member as before; aborting `signal` (the
   * Group closed) ends the attempt, rejecting once the process has exited.
   */
  static async open(target: string, options: GatewayOptions, id?: string, signal?: AbortSignal): Promise<Gateway> {
    const gateway = new Gateway(target, launchPlan(target, options), options, id);
    const connectTimeout = options.connectTimeout;
    const abandon = () => gateway.#fail('closed while connecting');
    try {
      await new Promise<void>((resolve, reject) => {
        const deadline = setDeadline(() => gateway.#fail(`no answer within ${connectTimeout} ms`), connectTimeout);
        gateway.once('ready', () => {
          deadline.clear();
          resolve();
        });
        gateway.once('dead', (error: GatewayError) => {
          deadline.clear();
          reject(error);
        });
        if (signal?.aborted) abandon();
        else signal?.addEventListener('abort', abandon, { once: true });
      });
    } catch (error) {
      if (signal?.aborted) await gateway.#exited;
      throw error;
    } finally {
      signal?.removeEventListener('abort', abandon);
    }
    gateway.#startHeartbeat();
    return gateway;
  }

  /** @internal A new connection to `gateway`'s target, with its options and id (Group reconnection). */
  static reopen(gateway: Gateway, signal: AbortSignal): Promise<Gateway> {
    return Gateway.open(gateway.target, gateway.#options, gateway.id, signal);
  }

  /** @internal True once close() was called: the opener ended it, it did not fail. */
  get closing(): boolean {
    return this.#closing;
  }

  /** True until the gateway is closed, dies or hangs. */
  get alive(): boolean {
    return this.#failure === null;
  }

  /** Why the gateway is no longer alive, or null. */
  get error(): GatewayError | null {
    return this.#failure;
  }

  /** Local pid of the child process (node for 'spawn', the ssh client for ssh). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /**
   * Runs `exportName` of `module` on the remote side as `fn(channel, ...args)` and returns this end
   * of the channel. The channel closes when the remote function returns; if it throws (or the
   * module/export cannot be loaded), receive() rejects with a RemoteError carrying its stack.
   * An unserializable argument is a TypeError here, before anything is sent.
   */
  remoteExec<T = unknown>(module: string, exportName: string, ...args: unknown[]): Channel<T> {
    return this.#exec<T>('remoteExec', 'channel', module, exportName, args);
  }

  /** Runs `exportName(...args)` on the remote side and resolves to its (awaited) return value. */
  async call<T = unknown>(module: string, exportName: string, ...args: unknown[]): Promise<T> {
    return this.startCall<T>(module, exportName, args).receive();
  }

  /** @internal call() whose channel the caller keeps: its first value is the result; closing it abandons the call. */
  startCall<T>(module: string, exportName: string, args: unknown[]): Channel<T> {
    return this.#exec<T>('call', 'call', module, exportName, args);
  }

  /**
   * The remote process imports each module once (a module cache per gateway process), so a file
   * changed on disk keeps its old code there. After reload(module), the next call or remoteExec of
   * that module imports the file again; modules it imports stay cached.
   */
  reload(module: string): void {
    checkString('reload', 'module', module);
    this.#post({ t: 'forget', module }, 'reload');
  }

  /** Asks the remote side to exit and waits for it (killing it after a grace period). Idempotent. */
  async close(): Promise<void> {
    this.#closing = true;
    if (this.#failure === null) {
      try {
        this.#child.stdin.end(encodeFrame('close', { t: 'exit' }));
      } catch {
        // The pipe is already gone: the exit below settles it.
      }
      this.#markDead(new GatewayError(this.id, 'closed'));
      const grace = setTimeout(() => this.#child.kill('SIGKILL'), EXIT_GRACE_MS);
      await this.#exited;
      clearTimeout(grace);
    }
    await this.#exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #exec<T>(where: string, mode: ExecMode, module: unknown, exportName: unknown, args: unknown[]): Channel<T> {
    checkString(where, 'module', module);
    checkString(where, 'exportName', exportName);
    const id = this.#nextChannelId++;
    const channel = new Channel<T>(id, this.#port);
    this.#post({ t: 'exec', ch: id, mode, module: module as string, export: exportName as string, args }, where);
    this.#channels.set(id, channel as Channel);
    this.#setActive(true);
    return channel;
  }

  #post(message: ParentMessage, where = 'channel.send'): void {
    if (this.#failure) throw this.#failure;
    this.#child.stdin.write(encodeFrame(where, message));
  }

  #onMessage(message: RemoteMessage): void {
    this.#lastSeen = Date.now();
    switch (message.t) {
      case 'hello':
        this.info = { pid: message.pid, hostname: message.hostname, node: message.node };
        this.emit('ready');
        break;
      case 'data':
        this.#channels.get(message.ch)?.deliver(message.value);
        break;
      case 'close':
        this.#channels
          .get(message.ch)
          ?.end(
            message.error
              ? new RemoteError(`gateway ${this.id}`, message.error)
              : new ChannelClosedError(`channel ${message.ch} on gateway ${this.id} is closed`),
          );
        break;
      case 'pong':
        break;
    }
  }

  #startHeartbeat(): void {
    this.#lastSeen = this.#lastTick = Date.now();
    this.#heartbeat = setInterval(() => {
      const now = Date.now();
      // If this process itself was blocked, the remote side's answers are still queued: don't blame it.
      if (now - this.#lastTick > 2 * this.#heartbeatInterval) this.#lastSeen = now;
      this.#lastTick = now;
      if (now - this.#lastSeen > this.#heartbeatTimeout) {
        this.#fail(`hung: no heartbeat for ${now - this.#lastSeen} ms`);
        return;
      }
      if (this.#failure === null) this.#post({ t: 'ping' });
    }, this.#heartbeatInterval);
    this.#heartbeat.unref();
    this.#setActive(this.#channels.size > 0);
  }

  /** The gateway died or hung: kill what is left of it and fail its channels. */
  #fail(reason: string): void {
    if (this.#failure) return;
    const tail = this.#stderrTail.trim();
    this.#markDead(new GatewayError(this.id, tail && !this.info ? `${reason}: ${tail}` : reason));
    // SIGTERM first: the relay (remote.ts) then kills a runner whose event loop is blocked.
    this.#child.kill('SIGTERM');
    setTimeout(() => this.#child.kill('SIGKILL'), EXIT_GRACE_MS).unref();
  }

  #markDead(error: GatewayError): void {
    if (this.#failure) return;
    this.#failure = error;
    clearInterval(this.#heartbeat);
    for (const channel of [...this.#channels.values()]) channel.end(error);
    this.emit('dead', error);
  }

  /** An idle gateway does not keep this process alive; one with open channels does. */
  #setActive(active: boolean): void {
    // The stdio pipes are net.Sockets at run time, which can be unref'd like the process handle.
    const handles = [this.#child, this.#child.stdout, this.#child.stdin, this.#child.stderr] as unknown as {
      ref(): void;
      unref(): void;
    }[];
    for (const handle of handles) {
      if (active) handle.ref();
      else handle.unref();
    }
  }
}

/**
 * Starts a gateway: `'spawn'` (a local child Node process) or `'ssh://[user@]host[:port]'` (one on
 * another machine, through the system ssh client, non-interactive). Resolves once the remote side
 * has answered; rejects with a GatewayError naming the target if it cannot start within
 * `connectTimeout`.
 */
export async function openGateway(target: string, options?: GatewayOptions): Promise<Gateway> {
  checkString('openGateway', 'target', target);
  if (target !== 'spawn') parseSshTarget(target); // a bad target is the caller's RangeError, before any process starts
  const opts = { ...checkKnownOptions('openGateway', options, gatewayOptionNames) } as GatewayOptions;
  opts.connectTimeout =
    opts.connectTimeout === undefined ? 15_000 : checkTimeout('openGateway', 'connectTimeout', opts.connectTimeout);
  const heartbeatTimeout =
    opts.heartbeatTimeout === undefined
      ? 10_000
      : checkTimeout('openGateway', 'heartbeatTimeout', opts.heartbeatTimeout);
  // 0 would declare every gateway hung at the first tick.
  opts.heartbeatTimeout =
    heartbeatTimeout === undefined ? Infinity : checkInteger('openGateway', 'heartbeatTimeout', heartbeatTimeout, 1);
  if (opts.heartbeatInterval !== undefined)
    checkInteger('openGateway', 'heartbeatInterval', opts.heartbeatInterval, 1, MAX_TIMER_MS);
  const unsafe =
    opts.unsafeSshArgs === undefined ? false : checkBoolean('openGateway', 'unsafeSshArgs', opts.unsafeSshArgs);
  for (const key of ['node', 'identityFile', 'cwd', 'remoteScript'] as const) {
    if (opts[key] !== undefined) checkString('openGateway', key, opts[key]);
  }
  if (opts.sshArgs !== undefined) checkSshArgs('openGateway', opts.sshArgs, unsafe);
  return Gateway.open(target, opts);
}
