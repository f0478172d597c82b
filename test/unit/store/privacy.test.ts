import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IDBFactory } from 'fake-indexeddb';
import { createAttention } from '../../../src/tracker';
import { privacySignal } from '../../../src/store/privacy';
import { optionsFromDataset, resolveOptions } from '../../../src/options';
import type { Attention } from '../../../src/types';

const trackers: Attention[] = [];
const start = (...args: Parameters<typeof createAttention>) => {
  const t = createAttention(...args);
  trackers.push(t);
  return t;
};
const names = async () => (await indexedDB.databases()).map((d) => d.name);
const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
};

beforeEach(() => {
  vi.stubGlobal('indexedDB', new IDBFactory());
});
afterEach(() => {
  trackers.splice(0).forEach((t) => t.stop());
  vi.unstubAllGlobals();
});

describe('privacy signals', () => {
  it('reads GPC and the spellings of Do Not Track', () => {
    expect(privacySignal(true, true, { globalPrivacyControl: true })).toBe(true);
    expect(privacySignal(false, true, { globalPrivacyControl: true })).toBe(false);
    expect(privacySignal(true, true, { doNotTrack: '1' })).toBe(true);
    expect(privacySignal(true, true, { doNotTrack: 'unspecified' })).toBe(false);
    expect(privacySignal(true, true, {}, { doNotTrack: '1' })).toBe(true);
    expect(privacySignal(true, true, { msDoNotTrack: '1' })).toBe(true);
    expect(privacySignal(true, true, { doNotTrack: 'yes' })).toBe(true);
    expect(privacySignal(true, false, { doNotTrack: '1' })).toBe(false);
    expect(privacySignal(true, true, undefined, undefined)).toBe(false);
  });

  it('options: retention and signal overrides are validated, with data attributes', () => {
    expect(resolveOptions({})).toMatchObject({ retentionDays: 90, maxItemRecords: 50_000, respectGpc: true, respectDoNotTrack: true });
    expect(() => resolveOptions({ retentionDays: 0 })).toThrow('retentionDays: expected a number of days > 0 and ≤ 3650, received 0');
    expect(() => resolveOptions({ maxItemRecords: 2.5 })).toThrow('maxItemRecords: expected an integer ≥ 1, received 2.5');
    expect(() => resolveOptions({ respectGpc: 'no' as never })).toThrow('respectGpc: expected a boolean, received "no"');
    expect(() => resolveOptions({ respectDoNotTrack: 0 as never })).toThrow('respectDoNotTrack: expected a boolean, received 0');
    expect(optionsFromDataset({ retentionDays: '30', maxItemRecords: '1000', respectGpc: 'false', respectDnt: 'false' })).toEqual({
      retentionDays: 30,
      maxItemRecords: 1000,
      respectGpc: false,
      respectDoNotTrack: false,
    });
    expect(() => optionsFromDataset({ retentionDays: 'forever' })).toThrow('data-retention-days: expected a number, received "forever"');
  });
});

describe('consent gating (tracker)', () => {
  it('requireConsent: no database until consent(true); consent(false) deletes it', async () => {
    const t = start({ requireConsent: true });
    await t.flush();
    expect((await t.export()).storage).toBe('none');
    expect(await names()).toEqual([]);
    t.consent(true);
    await t.flush();
    await until(async () => (await names()).length > 0);
    expect(await names()).toEqual(['attnflow']);
    expect((await t.export()).storage).toBe('indexeddb');
    t.consent(false);
    await until(async () => (await names()).length === 0);
    expect(await names()).toEqual([]);
    expect((await t.export()).storage).toBe('none');
  });

  it('Global Privacy Control counts as no consent, even after consent(true), unless the site sets respectGpc: false', async () => {
    vi.stubGlobal('navigator', { globalPrivacyControl: true });
    const t = start();
    t.consent(true);
    await t.flush();
    expect((await t.export()).storage).toBe('none');
    expect(await names()).toEqual([]);
    t.stop();
    const o = start({ respectGpc: false });
    await o.flush();
    expect((await o.export()).storage).toBe('indexeddb');
  });

  it('Do Not Track counts as no consent unless respectDoNotTrack: false', async () => {
    vi.stubGlobal('navigator', { doNotTrack: '1' });
    const t = start();
    expect((await t.export()).storage).toBe('none');
    expect(await names()).toEqual([]);
    t.stop();
    const o = start({ respectDoNotTrack: false });
    expect((await o.export()).storage).toBe('indexeddb');
  });

  it('flush, export and forget work without `this`, as the script-tag queue calls them', async () => {
    const { flush, export: exportAll, forget } = start();
    await flush();
    expect((await exportAll()).schema).toBe('attnflow');
    await forget();
    expect(await names()).toEqual([]);
  });
});
