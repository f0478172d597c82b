/**
 * Under `script-src 'self'; worker-src 'self' blob:; require-trusted-types-for 'script'` (how
 * scripts/serve.mjs serves *.csp.html) the SDK measures, personalizes and shows its overlay: no
 * eval, no inline script, no HTML strings.
 */
import type { Page } from '@playwright/test';
import { test, expect, collectConsole, waitForTracker, stayActive } from './helpers';

async function recordViolations(page: Page): Promise<void> {
  await page.addInitScript(() => {
    (window as any).__violations = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as any).__violations.push({ directive: e.violatedDirective, sample: e.sample, file: e.sourceFile.replace(/^.*\//, '') }),
    );
  });
}

test('strict CSP with Trusted Types: core, personalization and the debug overlay work, nothing of theirs is blocked', async ({ page }) => {
  await recordViolations(page);
  const messages = collectConsole(page, ['error', 'warning']);
  const response = await page.goto('/test/fixtures/personalize.csp.html?attn-debug');
  expect(response!.headers()['content-security-policy']).toContain("require-trusted-types-for 'script'");
  await waitForTracker(page);

  // Read b1 for a while: the profile now prefers topic b.
  const box = (await page.locator('[data-attn-item="b1"]').boundingBox())!;
  await stayActive(page, 2500, box.x + box.width / 2, box.y + box.height / 2, 250);
  const report = await page.evaluate(() => (window as any).attnflow.personalize());
  const below = report.containers.find((c: any) => c.key === 'below');
  expect(below.applied).toBe(true);
  expect(below.order[0]).toBe('b2');
  expect(
    await page.evaluate(() => [...document.querySelectorAll('[data-attn-rank="below"] > *')].map((e) => e.getAttribute('data-attn-item'))),
  ).toEqual(below.order);
  expect(report.variants[0].shown).toBe('hero-b');

  const e = await page.evaluate(() => (window as any).attnflow.explain('b2'));
  expect(e.drivers[0].topic).toBe('b');

  // The overlay mounted: shadow root with its panel and a label per item in view.
  await expect
    .poll(() =>
      page.evaluate(() => document.getElementById('attnflow-debug')?.shadowRoot?.querySelectorAll('[data-part="label"]').length ?? 0),
    )
    .toBeGreaterThanOrEqual(3);
  // The model chunk is judged by the test below; everything else must not trip the policy.
  const violations: any[] = await page.evaluate(() => (window as any).__violations);
  expect(violations.filter((v) => !/^attnflow-(model|worker|engine|tfjs)/.test(v.file))).toEqual([]);
  expect(messages.filter((m) => /unsafe-eval|TrustedHTML/i.test(m))).toEqual([]);
});

// The model's Worker needs a TrustedScriptURL under Trusted Types: the runtime makes it through its
// own policy, so no violation is reported and the model runs in the worker.
test('strict CSP with Trusted Types: the model chunk trips no policy either', async ({ page }) => {
  await recordViolations(page);
  const workers: string[] = [];
  page.on('worker', (w) => workers.push(w.url()));
  await page.goto('/test/fixtures/personalize.csp.html');
  await waitForTracker(page);
  const scores = await page.evaluate(() => (window as any).attnflow.scores());
  await page.waitForTimeout(2000);
  expect(await page.evaluate(() => (window as any).__violations)).toEqual([]);
  expect(Object.keys(scores).length).toBeGreaterThan(0);
  expect(workers.some((u) => u.endsWith('/dist/attnflow-worker.js'))).toBe(true);
});
