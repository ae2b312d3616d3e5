import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError, Group, openGateway, RemoteError } from 'hotpath';
import { rng } from './helpers.js';
import { fixtures } from './distributed-servers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hotpath-group-'));
let marker = 0;
const freshMarker = () => path.join(tmp, `marker-${marker++}`);
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('Group over healthy gateways', () => {
  let group: Group;
  beforeAll(async () => {
    group = await Group.open(['spawn', 'spawn'], { concurrency: 2 });
  });
  afterAll(async () => {
    await group.close();
  });

  it('maps in input order and spreads the work over every gateway', async () => {
    const r = rng(3);
    const items = Array.from({ length: 300 }, () => Math.floor(r() * 1e6));
    expect(await group.map(fixtures, 'square', items).toArray()).toEqual(items.map((x) => x * x));
    const where = await group
      .map<{ x: number; pid: number }>(
        fixtures,
        'whereAfter',
        range(12).map(() => 5),
      )
      .toArray();
    expect(new Set(where.map((w) => w.pid))).toEqual(new Set(group.gateways.map((g) => g.info?.pid)));
  });

  it('yields in completion order with ordered: false', async () => {
    const seen: number[] = [];
    for await (const w of group.map<{ x: number }>(fixtures, 'square', range(50), { ordered: false }))
      seen.push(w as unknown as number);
    expect(seen.sort((a, b) => a - b)).toEqual(range(50).map((x) => x * x));
  });

  it('submit returns a Future with state, and a remote throw rejects without a re-run', async () => {
    const before = group.stats();
    const future = group.submit<number>(fixtures, 'square', 6);
    expect(future.done).toBe(false);
    expect(await future).toBe(36);
    expect(future.state).toBe('fulfilled');
    const failing = group.submit(fixtures, 'fail', 'task error');
    await expect(failing).rejects.toBeInstanceOf(RemoteError);
    expect(failing.state).toBe('rejected');
    const after = group.stats();
    expect(after.failed).toBe(before.failed + 1);
    expect(after.reruns).toBe(before.reruns);
    expect(after).toMatchObject({ queued: 0, running: 0, alive: 2 });
  });

  it('cancels queued and running tasks, and keeps working', async () => {
    const futures = range(8).map(() => group.submit(fixtures, 'whereAfter', 100, 0));
    expect(futures[0].running).toBe(true);
    expect(futures[7].running).toBe(false);
    expect(futures[7].cancel()).toBe(true);
    expect(futures[0].cancel()).toBe(true);
    await expect(futures[7]).rejects.toMatchObject({ name: 'AbortError' });
    await expect(futures[0]).rejects.toMatchObject({ name: 'AbortError' });
    expect((await Promise.all(futures.slice(1, 7))).every((w) => (w as { x: number }).x === 0)).toBe(true);
    expect(await group.submit(fixtures, 'square', 3)).toBe(9);
  });

  it('reads lazily, reports progress, and leaving a map early stops it', async () => {
    const progress: { completed: number; total: number | undefined }[] = [];
    expect(
      await group.map(fixtures, 'square', new Set([2, 3]), { onProgress: (p) => progress.push(p) }).toArray(),
    ).toEqual([4, 9]);
    expect(progress.at(-1)).toEqual({ completed: 2, total: 2 });
    let pulled = 0;
    function* items() {
      for (let i = 0; i < 1000; i++, pulled++) yield i;
    }
    const before = group.stats().completed;
    for await (const _ of group.map(fixtures, 'tagged', items(), { concurrency: 4 })) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(pulled).toBeLessThan(10);
    expect(group.stats().completed - before).toBeLessThan(10);
    expect(group.stats()).toMatchObject({ queued: 0, running: 0 });
  });

  it('checks its arguments', () => {
    expect(() => new Group([])).toThrow(/Group: gateways must be a non-empty array of Gateway, got Array/);
    expect(() => new Group([{} as never])).toThrow(/gateways\[0\] must be a Gateway, got Object/);
    expect(() => new Group(group.gateways as never, { concurrency: 0 })).toThrow(RangeError);
    expect(() => group.map(fixtures, 'square', 5 as never)).toThrow(
      /Group.map: source must be an iterable or async iterable, got number/,
    );
    expect(() => group.submit(fixtures, 'square', () => 1)).toThrow(/Group.submit: value cannot be serialized/);
    expect(() => group.submit('', 'square')).toThrow(TypeError);
    expect(() => group.map(fixtures, 7 as never, [1])).toThrow(
      /Group.map: exportName must be a non-empty string, got number/,
    );
  });
});

describe('Group failures: at-least-once re-run, every task settles once', () => {
  it('re-runs the task whose gateway was SIGKILLed mid-task, settling every task once', async () => {
    const group = await Group.open(['spawn', 'spawn', 'spawn'], { concurrency: 2 });
    try {
      const shared = freshMarker(); // one marker: the first task to run kills its own gateway
      const items = range(60);
      const settled = new Map<number, number>();
      const futures = items.map((i) => group.submit<number>(fixtures, 'crashOnce', shared, i));
      futures.forEach((f, i) => f.then(() => settled.set(i, (settled.get(i) ?? 0) + 1)));
      expect(await Promise.all(futures)).toEqual(items);
      expect([...settled.values()].every((n) => n === 1)).toBe(true);
      expect(settled.size).toBe(items.length);
      expect(group.stats()).toMatchObject({ alive: 2, completed: items.length, failed: 0 });
      expect(group.stats().reruns).toBeGreaterThanOrEqual(1);
    } finally {
      await group.close();
    }
  });

  it('completes a map while one of its gateways is killed from outside', async () => {
    const group = await Group.open(['spawn', 'spawn'], { concurrency: 2 });
    try {
      const victim = group.gateways[0].info?.pid as number;
      const seen: { x: number; pid: number }[] = [];
      for await (const r of group.map<{ x: number; pid: number }>(fixtures, 'tagged', range(60))) {
        seen.push(r);
        if (seen.length === 5) process.kill(victim, 'SIGKILL');
      }
      expect(seen.map((r) => r.x)).toEqual(range(60));
      const pids = new Set(group.gateways.map((g) => g.info?.pid));
      expect(seen.every((r) => pids.has(r.pid))).toBe(true);
      expect(group.stats()).toMatchObject({ alive: 1, completed: 60 });
    } finally {
      await group.close();
    }
  });

  it('re-runs the task of a hung gateway once the heartbeat times out', async () => {
    const group = await Group.open(['spawn', 'spawn'], { heartbeatInterval: 100, heartbeatTimeout: 2000 });
    try {
      const shared = freshMarker();
      expect(await Promise.all(range(6).map((i) => group.submit(fixtures, 'hangOnce', shared, i)))).toEqual(range(6));
      expect(group.stats()).toMatchObject({ alive: 1, reruns: 1, completed: 6 });
      expect(group.gateways.find((g) => !g.alive)?.error?.message).toMatch(/hung/);
    } finally {
      await group.close();
    }
  });

  it('gives up after its retries, and rejects everything once every gateway is dead', async () => {
    const single = await Group.open(['spawn'], { retries: 0 });
    const futures = [single.submit(fixtures, 'exitAlways'), single.submit(fixtures, 'square', 2)];
    await expect(futures[0]).rejects.toThrow(/exited with code 7/);
    await expect(futures[1]).rejects.toThrow(/group of 1: every gateway is dead/);
    await expect(single.submit(fixtures, 'square', 2)).rejects.toBeInstanceOf(GatewayError);
    await single.close();
  });

  it('close rejects queued tasks and fails running ones', async () => {
    const gateway = await openGateway('spawn');
    const group = new Group([gateway]);
    const futures = range(3).map(() => group.submit(fixtures, 'whereAfter', 200, 0));
    await group.close();
    await expect(futures[0]).rejects.toThrow(/closed/);
    await expect(futures[2]).rejects.toThrow(/the group was closed before this task ran/);
    await expect(group.submit(fixtures, 'square', 1)).rejects.toThrow(/closed/);
    expect(gateway.alive).toBe(false);
  });
});
