// Cases ported from execnet's testing/test_channel.py and testing/test_gateway.py / test_multi.py
// (each names the test it ports), run on hotpath's gateways. execnet runs source strings; hotpath
// runs named exports of a module (test/fixtures/distributed-tasks.mjs), a documented difference
// (docs/api.md), so each remote snippet below is an export of that fixture.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelClosedError, Group, RemoteError, TimeoutError, openGateway, type Gateway } from 'hotpath';
import { fixtures } from './distributed-servers.js';

const TESTTIMEOUT = 10_000;
let gw: Gateway;

beforeAll(async () => {
  gw = await openGateway('spawn');
});
afterAll(async () => {
  await gw.close();
});

describe('test_channel.py TestChannelBasicBehaviour', () => {
  it('test_channel_close_and_then_receive_error', async () => {
    const channel = gw.remoteExec(fixtures, 'raiseAtOnce');
    await expect(channel.receive()).rejects.toBeInstanceOf(RemoteError);
  });

  it('test_channel_finish_and_then_EOFError (ChannelClosedError in hotpath)', async () => {
    const channel = gw.remoteExec(fixtures, 'produce', 1);
    expect(((await channel.receive()) as { i: number }).i).toBe(0);
    for (let i = 0; i < 3; i++) await expect(channel.receive()).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('test_waitclose_timeouterror', async () => {
    const channel = gw.remoteExec(fixtures, 'echoOnce');
    await expect(channel.waitClose({ timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
    channel.send(1);
    await channel.waitClose({ timeout: TESTTIMEOUT });
    expect(await channel.receive()).toBe(1); // hotpath keeps values that arrived before the close readable
  });

  it('test_channel_receive_timeout', async () => {
    const channel = gw.remoteExec(fixtures, 'echoOnce');
    await expect(channel.receive({ timeout: 200 })).rejects.toBeInstanceOf(TimeoutError);
    channel.send(1);
    expect(await channel.receive({ timeout: TESTTIMEOUT })).toBe(1);
  });

  it('test_channel_close_and_then_receive_error_multiple', async () => {
    const channel = gw.remoteExec(fixtures, 'failAfterSending');
    expect(await channel.receive()).toBe('first');
    await expect(channel.receive()).rejects.toBeInstanceOf(RemoteError);
  });

  it('test_channel__local_close: waitClose after a local close resolves', async () => {
    const channel = gw.remoteExec(fixtures, 'doubler');
    channel.close();
    await channel.waitClose({ timeout: 100 });
  });

  it('test_channel_syntax_error: the remote SyntaxError keeps its name', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-execnet-'));
    const broken = path.join(dir, 'broken.mjs');
    fs.writeFileSync(broken, 'export function foo()\n return 1\n');
    const error = (await gw
      .remoteExec(broken, 'foo')
      .receive()
      .catch((e: unknown) => e)) as RemoteError;
    expect(error.remoteName).toBe('SyntaxError');
  });

  it('test_channel_iter', async () => {
    const values = [];
    for await (const value of gw.remoteExec<{ i: number }>(fixtures, 'produce', 3)) values.push(value.i);
    expect(values).toEqual([0, 1, 2]);
  });

  it('test_channel_receiver_callback: values go to the callback, receive() refuses', async () => {
    const seen: unknown[] = [];
    const channel = gw.remoteExec(fixtures, 'sendTwo');
    channel.setCallback((value) => seen.push(value));
    expect(() => channel.receive()).toThrow(/delivers to its setCallback callback/);
    await channel.waitClose({ timeout: TESTTIMEOUT });
    expect(seen).toEqual([42, 13]);
  });

  it('test_channel_callback_after_receive: values already received are not given again', async () => {
    const seen: unknown[] = [];
    const channel = gw.remoteExec(fixtures, 'sendTwo');
    expect(await channel.receive()).toBe(42);
    channel.setCallback((value) => seen.push(value));
    await channel.waitClose({ timeout: TESTTIMEOUT });
    expect(seen).toEqual([13]);
  });

  it('test_channel_endmarker_callback', async () => {
    const seen: unknown[] = [];
    const channel = gw.remoteExec(fixtures, 'sendTwo');
    channel.setCallback((value) => seen.push(value), { endMarker: 999 });
    await channel.waitClose({ timeout: TESTTIMEOUT });
    expect(seen).toEqual([42, 13, 999]);
  });

  it('test_channel_endmarker_callback_error: the end marker comes after a remote error too', async () => {
    const seen: unknown[] = [];
    const channel = gw.remoteExec(fixtures, 'raiseAtOnce');
    const ended = new Promise((resolve) =>
      channel.setCallback((value) => (seen.push(value), value === 999 && resolve(value)), { endMarker: 999 }),
    );
    expect(await ended).toBe(999);
    await expect(channel.waitClose()).rejects.toThrow(/RangeError: raised remotely/);
  });

  it('test_channel_callback_error (hotpath: reported as a warning, later values still arrive)', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const seen: unknown[] = [];
      const channel = gw.remoteExec(fixtures, 'sendTwo');
      channel.setCallback((value) => {
        if (value === 42) throw new RangeError('callback failed on 42');
        seen.push(value);
      });
      await channel.waitClose({ timeout: TESTTIMEOUT });
      await new Promise((r) => setTimeout(r, 5));
      expect(seen).toEqual([13]);
      expect(warnings.some((w) => w.message.includes('callback failed on 42'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('test_gateway.py', () => {
  it('TestBasicGateway.test_correct_setup_no_py / test_remote_exec_module: a call runs remotely', async () => {
    expect(gw.info?.pid).not.toBe(process.pid);
    expect(await gw.call(fixtures, 'square', 7)).toBe(49);
  });

  it('test_gateway_status / test_remote_exec_waitclose', async () => {
    const channel = gw.remoteExec(fixtures, 'produce', 0);
    await channel.waitClose({ timeout: TESTTIMEOUT });
    expect(channel.closed).toBe(true);
  });

  it('test_remote_exec_waitclose_noarg', async () => {
    await gw.remoteExec(fixtures, 'produce', 0).waitClose();
  });

  it('test_remote_exec_error_after_close: the gateway stays usable after a remote error', async () => {
    await expect(gw.call(fixtures, 'raiseAtOnce')).rejects.toBeInstanceOf(RemoteError);
    expect(await gw.call(fixtures, 'square', 2)).toBe(4);
  });
});

describe('test_multi.py TestGroup', () => {
  it('test_group_id_allocation / test_basic_group / test_group_PopenGateway: members by id, size', async () => {
    const group = await Group.open(['spawn', 'spawn']);
    try {
      expect(group.size).toBe(2);
      const [a, b] = group.members;
      expect(a.id).not.toBe(b.id);
      expect(group.get(a.id)).toBe(a);
      expect(group.get('spawn#0')).toBeUndefined();
      expect(() => group.get(5 as never)).toThrow(TypeError);
      // A member that dies leaves the group (execnet: a terminated gateway is removed).
      process.kill(a.pid as number, 'SIGKILL');
      for (let i = 0; i < 200 && group.size === 2; i++) await new Promise((r) => setTimeout(r, 10));
      expect(group.size).toBe(1);
      expect(group.get(a.id)).toBeUndefined();
      expect(group.members).toEqual([b]);
    } finally {
      await group.close();
    }
    expect(group.size).toBe(0);
  });
});
