import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that talk to real peers start their own servers on loopback; give them room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
