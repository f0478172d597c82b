/**
 * Shared browser-test helpers. Every test imported from here fails when the page makes a request
 * to anything but 127.0.0.1 or throws an uncaught error.
 */
import { test as base, expect, type Page } from '@playwright/test';

export const test = base.extend<{ guard: { offsite: string[]; pageErrors: string[] } }>({
  guard: [
    async ({ context }, use) => {
      const offsite: string[] = [];
      const pageErrors: string[] = [];
      await context.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === '127.0.0.1') return route.continue();
        offsite.push(route.request().url());
        return route.abort('blockedbyclient');
      });
      const watch = (page: Page) => {
        page.on('pageerror', (error) => pageErrors.push(`${error.name}: ${error.message}`));
      };
      context.pages().forEach(watch);
      context.on('page', watch);
      await use({ offsite, pageErrors });
      expect(offsite, 'requests to anything but 127.0.0.1').toEqual([]);
      expect(pageErrors, 'uncaught page errors').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

/** Collects console messages of the given types, for tests that assert warnings. */
export function collectConsole(page: Page, types: string[] = ['warning', 'error']): string[] {
  const out: string[] = [];
  page.on('console', (msg) => {
    if (types.includes(msg.type())) out.push(`${msg.type()}: ${msg.text()}`);
  });
  return out;
}
