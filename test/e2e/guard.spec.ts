import { test } from './helpers';

// The guard every browser test relies on must itself be able to fail: these two tests are
// expected to fail, so Playwright reports an error if the guard ever lets them pass.
test.fail('a request to another host fails the test', async ({ page }) => {
  await page.goto('/test/fixtures/smoke.html');
  await page.evaluate(() => fetch('http://example.invalid/beacon').catch(() => {}));
});

test.fail('an uncaught page error fails the test', async ({ page }) => {
  await page.goto('/test/fixtures/smoke.html');
  await page.evaluate(() =>
    setTimeout(() => {
      throw new Error('boom');
    }),
  );
  await page.waitForTimeout(100);
});
