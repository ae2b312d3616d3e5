import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Default forks pool: addon errors must be real instances of this realm's TypeError/RangeError.
    pool: 'forks',
    testTimeout: 60_000,
    server: {
      // Tests import the built package (dist/, by self-reference): load it as Node does, untransformed.
      deps: { external: [/\/dist\//] },
    },
  },
});
