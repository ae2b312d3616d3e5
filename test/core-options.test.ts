// Every public entry point of the pool, async, distributed and memoize areas rejects an unknown
// option with a TypeError naming it (one shared helper, src/core/options.ts): a misspelt option must
// never be silently ignored (issue 16).
import { describe, expect, it } from 'vitest';
import {
  ClusterExecutor,
  Future,
  Group,
  Pool,
  Semaphore,
  asCompleted,
  gather,
  mapAsync,
  memoize,
  openGateway,
  startClusterWorker,
  wait,
  withTimeout,
} from 'hotpath';
import { compileFixture } from './pool-fixture.js';

const bogus = { bogus: 1 } as never;
const named = /unknown option 'bogus' \(accepted: /;

describe('unknown options are TypeErrors naming them, at every entry point', () => {
  it('Pool and its methods', async () => {
    const tasks = compileFixture('pool-tasks.ts');
    expect(() => new Pool({ filename: tasks, bogus: 1 } as never)).toThrow(named);
    expect(() => new Pool({ filename: tasks, maxTaskPerChild: 1 } as never)).toThrow(
      /Pool: unknown option 'maxTaskPerChild'/,
    );
    const pool = new Pool({ filename: tasks, maxThreads: 1, minThreads: 0 });
    try {
      expect(() => pool.submitWith('add', [1, 2], bogus)).toThrow(named);
      expect(() => pool.map('square', [1], bogus)).toThrow(named);
      expect(() => pool.close(bogus)).toThrow(named);
    } finally {
      await pool.close();
    }
  });

  it('futures, wait and asCompleted', () => {
    expect(() => wait([], bogus)).toThrow(named);
    expect(() => asCompleted([], bogus)).toThrow(named);
    expect(() => Future.from(1).result(bogus)).toThrow(named);
    expect(() => Future.from(1).exception(bogus)).toThrow(named);
  });

  it('async helpers', () => {
    expect(() => mapAsync([1], (x) => x, bogus)).toThrow(named);
    expect(() => gather([], bogus)).toThrow(named);
    expect(() => withTimeout(Promise.resolve(1), 10, bogus)).toThrow(named);
    expect(() => new Semaphore(1).acquire(bogus)).toThrow(named);
    return expect(new Semaphore(1).use(() => 1, bogus)).rejects.toThrow(named);
  });

  it('memoize, as a function and as a decorator', () => {
    expect(() => memoize((x: number) => x, bogus)).toThrow(named);
    expect(() => memoize(bogus)).toThrow(named);
  });

  it('gateways, groups and the cluster', async () => {
    await expect(openGateway('spawn', bogus)).rejects.toThrow(named);
    await expect(Group.open(['spawn'], bogus)).rejects.toThrow(named);
    expect(
      () => new ClusterExecutor({ connection: 'redis://127.0.0.1:1', queue: 'q', module: 'm', bogus: 1 } as never),
    ).toThrow(named);
    await expect(
      startClusterWorker({ connection: 'redis://127.0.0.1:1', queue: 'q', modules: ['hotpath'], bogus: 1 } as never),
    ).rejects.toThrow(named);
    const executor = new ClusterExecutor({
      connection: 'redis://127.0.0.1:1',
      queue: 'q',
      module: 'm',
      connectTimeout: 100,
    });
    try {
      expect(() => executor.map('square', [1], bogus)).toThrow(named);
    } finally {
      await executor.close();
    }
    const gw = await openGateway('spawn');
    const group = new Group([gw]);
    try {
      expect(() => new Group([gw], bogus)).toThrow(named);
      expect(() => group.map('m', 'f', [1], bogus)).toThrow(named);
      const channel = gw.remoteExec('./no-such-module.mjs', 'f');
      expect(() => channel.receive(bogus)).toThrow(named);
    } finally {
      await group.close();
    }
  });
});
