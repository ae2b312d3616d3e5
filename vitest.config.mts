import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Default forks pool: addon errors must be real instances of this realm's TypeError/RangeError.
    pool: 'forks',
    testTimeout: 60_000,
    // CI runs the suite six times on a 2-core runner; liveness tests (heartbeats, timeouts, SIGKILL
    // recovery) can lose a scheduler race there. A retry re-runs the same assertions, nothing is relaxed.
    retry: process.env.CI ? 2 : 0,
    server: {
      // Tests import the built package (dist/, by self-reference): load it as Node does, untransformed.
      deps: { external: [/\/dist\//] },
    },
  },
});
