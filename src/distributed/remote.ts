// The remote end of a gateway, started by the opener as `node remote.js [--cwd DIR]` (locally, or on
// another machine through ssh). Frames arrive on stdin and leave on stdout. It runs only the
// module exports the opener names; payloads are data. It exits when stdin closes (the opener or
// its ssh session went away) or on the opener's 'exit'.
import os from 'node:os';
import { Channel, type ChannelPort } from './channel.js';
import { ChannelClosedError } from '../core/errors.js';
import { loadExport } from '../core/task-export.js';
import { toWireError } from '../core/wire-error.js';
import { encodeFrame, FrameDecoder, type ParentMessage, type RemoteMessage } from './protocol.js';

const cwdFlag = process.argv.indexOf('--cwd');
if (cwdFlag >= 0) process.chdir(process.argv[cwdFlag + 1]);

// Frames own fd 1: console.log in user code goes to stderr, where it cannot corrupt them.
const writeFrame = process.stdout.write.bind(process.stdout);
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;

const channels = new Map<number, Channel>();
const port = {
  label: `${os.hostname()} pid ${process.pid}`,
  post(message: RemoteMessage, where = 'channel.send') {
    writeFrame(encodeFrame(where, message));
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
    case 'ping':
      port.post({ t: 'pong' });
      break;
    case 'exit':
      process.exit(0);
  }
}

const decoder = new FrameDecoder((message) => onMessage(message as ParentMessage));
process.stdin.on('data', (chunk: Buffer) => decoder.push(chunk));
process.stdin.on('end', () => process.exit(0));
port.post({ t: 'hello', pid: process.pid, hostname: os.hostname(), node: process.version });
