// The remote end of a gateway, started by the opener as `node remote.js [--cwd DIR]` (locally, or on
// another machine through ssh). It runs only the module exports the opener names; payloads are data.
// The process the opener starts is a relay: it runs the real runner (this file with --runner) with
// the frames on their own pipe (fd 3) and the runner's fd 1 on stderr, so nothing user code writes
// (console.log, even fs.writeSync(1, ...)) can corrupt the framed protocol on the relay's stdio.
// Both exit when stdin closes (the opener or its ssh session went away) or on the opener's 'exit';
// a SIGTERM to the relay kills the runner first, even one whose event loop is blocked.
import { spawn } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import { Channel, type ChannelPort } from './channel.js';
import { ChannelClosedError } from '../core/errors.js';
import { forgetModule, loadExport } from '../core/task-export.js';
import { toWireError } from '../core/wire-error.js';
import { encodeFrame, FrameDecoder, type ParentMessage, type RemoteMessage } from './protocol.js';

const FRAMES_FD = 3;

function relay(): void {
  const runner = spawn(process.execPath, [__filename, '--runner', ...process.argv.slice(2)], {
    stdio: ['ignore', process.stderr, 'inherit', 'pipe'],
  });
  const frames = runner.stdio[FRAMES_FD] as net.Socket;
  process.stdin.pipe(frames);
  frames.pipe(process.stdout);
  frames.on('error', () => {}); // the runner died: its exit, below, ends the relay
  process.stdout.on('error', () => runner.kill('SIGKILL')); // the opener went away
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => runner.kill('SIGKILL'));
  runner.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

if (!process.argv.includes('--runner')) relay();
else runnerMain();

function runnerMain(): void {
  const cwdFlag = process.argv.indexOf('--cwd');
  if (cwdFlag >= 0) process.chdir(process.argv[cwdFlag + 1]);

  const framesOut = new net.Socket({ fd: FRAMES_FD, readable: true, writable: true });
  const channels = new Map<number, Channel>();
  const port = {
    label: `${os.hostname()} pid ${process.pid}`,
    post(message: RemoteMessage, where = 'channel.send') {
      framesOut.write(encodeFrame(where, message));
    },
    release(id: number) {
      channels.delete(id);
    },
  } satisfies ChannelPort;

  async function run(message: Extract<ParentMessage, { t: 'exec' }>): Promise<void> {
    const channel = new Channel(message.ch, port);
    channels.set(message.ch, channel);
    try {
      const fn = await loadExport(message.module, message.export, process.cwd());
      if (message.mode === 'call') port.post({ t: 'data', ch: message.ch, value: await fn(...message.args) }, `the result of ${message.export}()`);
      else await fn(channel, ...message.args);
      channel.close();
    } catch (error) {
      if (channel.closed) return;
      port.post({ t: 'close', ch: message.ch, error: toWireError(error) });
      channel.end(new ChannelClosedError(`channel ${message.ch} failed`));
    }
  }

  function onMessage(message: ParentMessage): void {
    switch (message.t) {
      case 'exec':
        void run(message);
        break;
      case 'data':
        channels.get(message.ch)?.deliver(message.value);
        break;
      case 'close':
        channels.get(message.ch)?.end(new ChannelClosedError(`channel ${message.ch} was closed by the opener`));
        break;
      case 'forget':
        try {
          forgetModule(message.module, process.cwd());
        } catch {
          // Not resolvable here: nothing was imported, nothing to forget.
        }
        break;
      case 'ping':
        port.post({ t: 'pong' });
        break;
      case 'exit':
        process.exit(0);
    }
  }

  const decoder = new FrameDecoder((message) => onMessage(message as ParentMessage));
  framesOut.on('data', (chunk: Buffer) => decoder.push(chunk));
  framesOut.on('end', () => process.exit(0));
  framesOut.on('error', () => process.exit(0));
  port.post({ t: 'hello', pid: process.pid, hostname: os.hostname(), node: process.version });
}
