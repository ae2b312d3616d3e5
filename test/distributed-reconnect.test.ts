// Group reconnection (issue 23): a member whose gateway died or hung is opened again with backoff under the
// same id and receives work again; tasks wait for it instead of failing; close() stops it at any point. Local
// 'spawn' members with their runner SIGKILLed (racy points tested in loops), and an ssh:// member through a
// loopback sshd where one can start. The multi-host bed (distributed-netbed.test.ts) covers partitions.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  GatewayError,
  Group,
  type Gateway,
  type GroupEvents,
  type MemberLostEvent,
  type ReconnectEvent,
} from 'hotpath';
import { repoRoot } from './helpers.js';
import { fixtures, startSshd, type SshServer } from './distributed-servers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-reconnect-'));
let marker = 0;
const freshMarker = () => path.join(tmp, `marker-${marker++}`);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Resolves with the first `event` the group emits. */
function next<E extends keyof GroupEvents>(group: Group, event: E): Promise<GroupEvents[E][0]> {
  return new Promise((resolve) => group.once(event as keyof GroupEvents, resolve as never));
}

function runnerPid(gateway: Gateway | undefined): number {
  const pid = gateway?.info?.pid;
  if (pid === undefined) throw new Error('gateway has no runner pid');
  return pid;
}

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('Group reconnect: options', () => {
  it('checks reconnect, its backoff and retries, naming what is wrong', async () => {
    const open = (options: object) => Group.open(['spawn'], options as never);
    await expect(open({ reconnect: 5 })).rejects.toThrow(
      /Group.open: reconnect: options must be an object, got number/,
    );
    await expect(open({ reconnect: { tries: 1 } })).rejects.toThrow(
      /Group.open: reconnect: unknown option 'tries' \(accepted: retries, backoff\)/,
    );
    await expect(open({ reconnect: { retries: -1 } })).rejects.toThrow(
      new RangeError('Group.open: reconnect.retries must be an integer >= 0, got -1'),
    );
    await expect(open({ reconnect: { retries: '3' } })).rejects.toThrow(TypeError);
    await expect(open({ reconnect: { backoff: { initial: 10, jitter: true } } })).rejects.toThrow(
      /reconnect.backoff: unknown option 'jitter' \(accepted: initial, factor, max\)/,
    );
    await expect(open({ reconnect: { backoff: -5 } })).rejects.toThrow(
      /reconnect.backoff.initial must be a number >= 0, got -5/,
    );
    await expect(open({ reconnect: { backoff: { factor: 0.5 } } })).rejects.toThrow(
      /reconnect.backoff.factor must be a number >= 1, got 0.5/,
    );
    await expect(open({ reconnect: { backoff: { initial: 500, max: 100 } } })).rejects.toThrow(
      /reconnect.backoff.max must be >= reconnect.backoff.initial \(500\), got 100/,
    );
    await expect(open({ reconnect: { backoff: 'fast' } })).rejects.toThrow(TypeError);
    await expect(open({ retries: 1, maxAttempts: 2 })).rejects.toThrow(
      /Group.open: options retries and maxAttempts \(its deprecated name\) are both set/,
    );
    // Accepted shapes: a number (the first delay), an object, Infinity retries.
    for (const reconnect of [
      {},
      { retries: Infinity, backoff: 0 },
      { backoff: { initial: 5, factor: 1.5, max: 50 } },
    ]) {
      const group = await open({ reconnect });
      await group.close();
    }
  });
});

describe('Group reconnect: spawn members', () => {
  it('re-opens a SIGKILLed member under its id; it receives work again; every result arrives once', async () => {
    const group = await Group.open(['spawn', 'spawn'], { concurrency: 2, reconnect: { retries: 3, backoff: 50 } });
    const lost: MemberLostEvent[] = [];
    const back: ReconnectEvent[] = [];
    group.on('memberLost', (e: MemberLostEvent) => lost.push(e));
    group.on('reconnect', (e: ReconnectEvent) => back.push(e));
    try {
      // Racy by nature (the kill lands at any point of a call): several rounds, killing a member each time.
      for (let round = 0; round < 4; round++) {
        const victim = group.gateways[round % 2];
        const id = victim.id;
        const oldPid = runnerPid(victim);
        const reconnected = next(group, 'reconnect');
        const seen: { x: number; pid: number }[] = [];
        for await (const r of group.map<{ x: number; pid: number }>(fixtures, 'tagged', range(80))) {
          seen.push(r);
          if (seen.length === 10) process.kill(oldPid, 'SIGKILL');
        }
        expect(seen.map((r) => r.x)).toEqual(range(80));
        const event = await reconnected;
        expect(event.id).toBe(id);
        expect(group.get(id)).toBe(event.gateway);
        expect(event.gateway.alive).toBe(true);
        expect(runnerPid(event.gateway)).not.toBe(oldPid);
        // The re-opened member takes work again.
        const pids = new Set(
          (await group.map<{ pid: number }>(fixtures, 'tagged', range(40)).toArray()).map((r) => r.pid),
        );
        expect(pids.has(runnerPid(event.gateway))).toBe(true);
      }
      expect(lost).toHaveLength(4);
      expect(lost.every((e) => e.reconnecting && e.error instanceof GatewayError)).toBe(true);
      expect(back.map((e) => e.attempt)).toEqual([1, 1, 1, 1]);
      expect(group.stats()).toMatchObject({ alive: 2, reconnects: 4, failed: 0, queued: 0, running: 0 });
      expect(group.gateways.map((g) => g.id).sort()).toEqual([...new Set(lost.map((e) => e.id))].sort());
    } finally {
      await group.close();
    }
  });

  it('queued tasks wait for a reconnecting member instead of failing (a group of one)', async () => {
    const group = await Group.open(['spawn'], { reconnect: { retries: 2, backoff: 200 } });
    try {
      const shared = freshMarker(); // the first task kills its own runner
      const futures = range(5).map((i) => group.submit<number>(fixtures, 'crashOnce', shared, i));
      expect(await Promise.all(futures)).toEqual(range(5));
      expect(group.stats()).toMatchObject({ alive: 1, reconnects: 1, reruns: 1, completed: 5, failed: 0 });
    } finally {
      await group.close();
    }
  });

  it('a hung member (heartbeat) is re-opened too', async () => {
    const group = await Group.open(['spawn'], {
      heartbeatInterval: 100,
      heartbeatTimeout: 1000,
      reconnect: { retries: 2, backoff: 10 },
    });
    try {
      const lost = next(group, 'memberLost');
      const shared = freshMarker();
      expect(await Promise.all(range(4).map((i) => group.submit(fixtures, 'hangOnce', shared, i)))).toEqual(range(4));
      expect((await lost).error.message).toMatch(/hung: no heartbeat/);
      expect(group.stats()).toMatchObject({ alive: 1, reconnects: 1, reruns: 1 });
    } finally {
      await group.close();
    }
  });

  it('gives up after its retries: reconnectFailed, then queued tasks reject with a GatewayError', async () => {
    // A 'spawn' member whose working directory is gone cannot be started again.
    const cwd = fs.mkdtempSync(path.join(tmp, 'cwd-'));
    const group = await Group.open(['spawn'], { cwd, reconnect: { retries: 2, backoff: { initial: 20, factor: 3 } } });
    try {
      const id = group.gateways[0].id;
      const failed = next(group, 'reconnectFailed');
      fs.rmSync(cwd, { recursive: true });
      const started = Date.now();
      process.kill(runnerPid(group.gateways[0]), 'SIGKILL');
      const futures = range(3).map(() => group.submit(fixtures, 'square', 2));
      const event = await failed;
      expect(Date.now() - started).toBeGreaterThanOrEqual(20 + 60 - 5); // both backoff delays were waited
      expect(event).toMatchObject({ id, attempts: 2 });
      expect(event.error.message).toMatch(/cannot run .*ENOENT/);
      for (const future of futures) await expect(future).rejects.toThrow(/group of 1: every gateway is dead/);
      expect(group.get(id)).toBeUndefined();
      expect(group.stats()).toMatchObject({ alive: 0, reconnects: 0 });
    } finally {
      await group.close();
    }
  });

  it('close() during the backoff wait or the connection attempt stops reconnecting, leaves nothing', async () => {
    // The close lands at every stage: before the delay ends, while the new process starts, right after.
    for (const [backoff, closeAfter] of [
      [5000, 0],
      [0, 0],
      [0, 5],
      [0, 20],
      [10, 40],
      [0, 80],
    ]) {
      const group = await Group.open(['spawn'], { reconnect: { retries: 3, backoff } });
      const reconnects: ReconnectEvent[] = [];
      group.on('reconnect', (e: ReconnectEvent) => reconnects.push(e));
      const lost = next(group, 'memberLost');
      process.kill(runnerPid(group.gateways[0]), 'SIGKILL');
      await lost;
      await new Promise((resolve) => setTimeout(resolve, closeAfter));
      const started = Date.now();
      await group.close();
      expect(Date.now() - started).toBeLessThan(2500);
      expect(group.gateways.every((g) => !g.alive)).toBe(true);
      const pids = group.gateways.map((g) => g.info?.pid).filter((pid) => pid !== undefined);
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(); // every runner is gone
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(reconnects.length).toBeLessThanOrEqual(1); // one that completed before close() is closed by it
      expect(group.size).toBe(0);
    }
  });

  it('a member closed by its caller is not re-opened; listeners that throw are warnings', async () => {
    const group = await Group.open(['spawn', 'spawn'], { reconnect: { retries: 2, backoff: 10 } });
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    try {
      const lost: MemberLostEvent[] = [];
      group.on('memberLost', (e: MemberLostEvent) => {
        lost.push(e);
        throw new Error('listener bug');
      });
      await group.gateways[0].close();
      const back = next(group, 'reconnect');
      process.kill(runnerPid(group.gateways[1]), 'SIGKILL');
      expect((await back).id).toBe(group.gateways[1].id);
      expect(lost.map((e) => e.id)).toEqual([group.gateways[1].id]);
      expect(warn).toHaveBeenCalledWith(
        expect.stringMatching(/Group 'memberLost' listener threw: Error: listener bug/),
        expect.objectContaining({ code: 'HOTPATH_CALLBACK_ERROR' }),
      );
      expect(group.stats()).toMatchObject({ alive: 1, reconnects: 1 });
      expect(await group.submit(fixtures, 'square', 7)).toBe(49);
    } finally {
      warn.mockRestore();
      await group.close();
    }
  });

  it('tasks waiting for a reconnecting member keep the process alive until they settle', () => {
    // Without the hold, the process would exit during the backoff wait with the task's await unsettled.
    const script = `
      const { Group } = require(${JSON.stringify(path.join(repoRoot, 'dist', 'index.js'))});
      (async () => {
        const group = await Group.open(['spawn'], { reconnect: { retries: 2, backoff: 300 } });
        const running = group.submit(${JSON.stringify(fixtures)}, 'whereAfter', 1000, 9);
        setTimeout(() => process.kill(group.gateways[0].info.pid, 'SIGKILL'), 200);
        console.log('result', (await running).x);
        await group.close();
      })();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('result 9\n');
    expect(r.status).toBe(0);
  });
});

describe('Group reconnect: an ssh:// member', () => {
  let sshd: SshServer | string;
  beforeAll(async () => {
    sshd = await startSshd();
    if (typeof sshd === 'string') console.warn(`skipping the ssh reconnect test: ${sshd}`);
  });
  afterAll(async () => {
    if (typeof sshd !== 'string') await sshd.stop();
  });

  it('re-opens an ssh member whose remote runner was SIGKILLed, under the same id', async (ctx) => {
    if (typeof sshd === 'string') return ctx.skip();
    const { user, port, identityFile, sshArgs } = sshd;
    const group = await Group.open([`ssh://${user}@127.0.0.1:${port}`], {
      identityFile,
      sshArgs,
      node: process.execPath,
      remoteScript: path.join(repoRoot, 'dist', 'distributed', 'remote.js'),
      reconnect: { retries: 3, backoff: 100 },
    });
    try {
      const id = group.gateways[0].id;
      for (let round = 0; round < 2; round++) {
        const oldPid = runnerPid(group.get(id));
        const back = next(group, 'reconnect');
        const futures = range(20).map((i) => group.submit<{ x: number }>(fixtures, 'tagged', i));
        process.kill(oldPid, 'SIGKILL');
        expect((await Promise.all(futures)).map((r) => r.x)).toEqual(range(20));
        const event = await back;
        expect(event.id).toBe(id);
        expect(group.get(id)?.alive).toBe(true);
        expect(runnerPid(group.get(id))).not.toBe(oldPid);
      }
      expect(group.stats()).toMatchObject({ reconnects: 2, alive: 1, failed: 0 });
    } finally {
      await group.close();
    }
  });
});
