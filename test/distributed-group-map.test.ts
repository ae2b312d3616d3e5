// Group.map's ordered mode (issue 16, defect 3): a failing item is reported only after every result
// before it, even when it fails first; unordered mode reports it as soon as it happens. The items
// before the failure run for a while on the gateways, the failing one throws at once.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Group, RemoteError } from 'hotpath';

const tasks = path.join(__dirname, 'fixtures', 'distributed-map-tasks.mjs');

async function drain<R>(iterable: AsyncIterable<R>): Promise<{ results: R[]; error: unknown }> {
  const results: R[] = [];
  try {
    for await (const value of iterable) results.push(value);
    return { results, error: null };
  } catch (error) {
    return { results, error };
  }
}

describe('Group.map, ordered', () => {
  let group: Group;
  beforeAll(async () => {
    group = await Group.open(['spawn', 'spawn'], { concurrency: 2 });
  });
  afterAll(async () => {
    await group.close();
  });

  it('yields every result before the failing index, then throws its error', async () => {
    const started = Date.now();
    const { results, error } = await drain(group.map<number>(tasks, 'slowOrFail', [300, 200, -1, 100, 50]));
    expect(results).toEqual([300, 200]);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).remoteName).toBe('RangeError');
    expect((error as Error).message).toMatch(/item -1 fails/);
    // The failure came first; the slow items before it were waited for, not dropped.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  it('a failure at index 0 yields nothing; items after it never matter', async () => {
    const { results, error } = await drain(group.map<number>(tasks, 'slowOrFail', [-1, 0, 0]));
    expect(results).toEqual([]);
    expect((error as Error).message).toMatch(/item -1 fails/);
  });

  it('results before the failure arrive in input order, whatever order they finish in', async () => {
    const { results, error } = await drain(group.map<number>(tasks, 'slowOrFail', [250, 10, 120, 5, -2]));
    expect(results).toEqual([250, 10, 120, 5]);
    expect((error as Error).message).toMatch(/item -2 fails/);
  });

  it('ordered: false throws as soon as the failure arrives', async () => {
    const { results, error } = await drain(
      group.map<number>(tasks, 'slowOrFail', [300, 200, -1, 100], { ordered: false }),
    );
    expect(results).not.toContain(300);
    expect((error as Error).message).toMatch(/item -1 fails/);
  });

  it('the group still runs tasks after a failed map', async () => {
    expect(await group.map<number>(tasks, 'slowOrFail', [1, 2, 3]).toArray()).toEqual([1, 2, 3]);
  });
});
