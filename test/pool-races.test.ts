// Races between a Pool task finishing and being cancelled, run in loops so that a 1-in-10 crash
// cannot pass. Before the fix, piscina reported the late reply of a cancelled task as an 'error'
// event nobody listened to, which ended the process (issue 16, defect 1).
import { afterAll, beforeAll, describe as suite, expect, it } from 'vitest';
import { Pool } from 'hotpath';
import { compileFixture } from './pool-fixture.js';

const ROUNDS = 200;
let pool: Pool;

function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end);
}

beforeAll(() => {
  pool = new Pool({ filename: compileFixture('pool-tasks.ts'), maxThreads: 2, minThreads: 2 });
});
afterAll(() => pool.close());

suite('Pool: cancel racing completion', () => {
  it(`cancel() of a task whose worker has just finished never crashes the process (${ROUNDS} rounds)`, async () => {
    let cancelled = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const future = pool.submit<number>('add', round, 1);
      busy(20); // the worker replies meanwhile; the reply is still queued when cancel() runs
      if (future.cancel()) cancelled++;
      const outcome = await future.then(
        (value) => value,
        (error: Error) => error.name,
      );
      expect(outcome === round + 1 || outcome === 'AbortError').toBe(true);
    }
    expect(cancelled).toBeGreaterThan(0);
    expect(await pool.submit('add', 2, 2)).toBe(4);
  });

  it(`a map stopped by its first failure, then another submit, never crashes (${ROUNDS / 10} rounds)`, async () => {
    for (let round = 0; round < ROUNDS / 10; round++) {
      await expect(pool.map('failAtZero', [0, 3, 3, 3]).toArray()).rejects.toThrow('item 0 fails');
      busy(5);
      expect(await pool.submit('add', round, 1)).toBe(round + 1);
    }
  });
});
