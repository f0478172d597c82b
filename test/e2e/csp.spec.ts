/**
 * Under `script-src 'self'; worker-src 'self' blob:; require-trusted-types-for 'script'` (how
 * scripts/serve.mjs serves *.csp.html) the SDK measures, personalizes and shows its overlay: no
 * eval, no inline script, no HTML strings.
 */
import { test, expect, collectConsole, waitForTracker, stayActive } from './helpers';

test('strict CSP with Trusted Types: personalization and the debug overlay work, nothing is blocked', async ({ page }) => {
  await page.addInitScript(() => {
    (window as any).__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => (window as any).__violations.push(`${e.violatedDirective}: ${e.blockedURI}`));
  });
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
    .poll(() => page.evaluate(() => document.getElementById('attnflow-debug')?.shadowRoot?.querySelectorAll('[data-part="label"]').length ?? 0))
    .toBeGreaterThanOrEqual(3);
  expect(await page.evaluate(() => (window as any).__violations)).toEqual([]);
  expect(messages.filter((m) => /Content Security Policy|Trusted ?Type|unsafe-eval/i.test(m))).toEqual([]);
});
