import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    environment: 'node',
    setupFiles: ['fake-indexeddb/auto'],
    testTimeout: 30_000,
    // Fake timers must leave IndexedDB's own timers alone.
    fakeTimers: { toFake: ['setTimeout', 'clearTimeout', 'Date'] },
  },
  define: { __VERSION__: JSON.stringify('test') },
});
