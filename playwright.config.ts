import { mkdirSync } from 'node:fs';
import { defineConfig } from '@playwright/test';

// Chromium leaves temp folders behind; keep them inside the project.
const tmp = new URL('./.tmp/', import.meta.url).pathname;
mkdirSync(tmp, { recursive: true });
process.env.TMPDIR = tmp;

/** Fixed port: IndexedDB is per origin, port included, so persistence tests need it stable. */
export const PORT = Number(process.env.ATTNFLOW_PORT || 4173);

export default defineConfig({
  testDir: 'test/e2e',
  outputDir: '.tmp/test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 60_000,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}/`,
    browserName: 'chromium',
    launchOptions: {
      executablePath: process.env.ATTNFLOW_CHROMIUM || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--enable-unsafe-swiftshader',
      ],
    },
  },
  webServer: {
    command: `node scripts/serve.mjs --port ${PORT}`,
    url: `http://127.0.0.1:${PORT}/package.json`,
    reuseExistingServer: !process.env.CI,
    timeout: 30_000,
  },
});
