// @vitest-environment happy-dom
/**
 * The core without its chunks (404, CSP, an opaque origin without CORS): the page keeps working,
 * the failure is reported once, and what could be kept is kept.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { observeItems } from '../../../src/capture/items';
import { createAttention } from '../../../src/tracker';
import { createLog } from '../../../src/store/log';
import type { AttentionSnapshot } from '../../../src/types';

const storeChunk = vi.hoisted(() => ({ load: (): Promise<unknown> => Promise.reject(new Error('attnflow-store.js: 404')) }));
vi.mock('../../../src/chunks/load', () => ({
  loadChunk: (name: string) => (name === 'store' ? storeChunk.load() : Promise.reject(new Error(`attnflow-${name}.js: 404`))),
  setChunkBase: () => {},
}));

afterEach(() => {
  document.body.replaceChildren();
  localStorage.clear();
});

const snap = (viewId: string): AttentionSnapshot => ({
  page: { engagedMs: 1000, visibleMs: 1000, scrollDepth: 0.5, startedAt: 1, viewId, path: '/', rageClicks: 0, deadClicks: 0 },
  items: {
    a: {
      attentionMs: 900,
      visibleMs: 1000,
      viewableMs: 1000,
      hoverMs: 0,
      maxVisibleRatio: 1,
      clicks: 0,
      viewable: true,
      skipped: false,
      topics: ['x'],
      rageClicks: 0,
      deadClicks: 0,
    },
  },
});

describe('without the log chunk', () => {
  it('reports once, exports nothing stored, keeps the hide copy for a later page, and forget removes it', async () => {
    const report = vi.fn();
    const log = createLog({ retentionDays: 90, maxItemRecords: 50_000, report, log: () => {}, clock: { now: () => 5, epoch: () => 5 } });
    log.allow(true);
    log.recordView(snap('v1'), 'hide');
    expect(localStorage.getItem('attnflow:unsaved:v1')).toContain('"viewId":"v1"');
    await log.flush();
    const out = await log.export();
    expect([out.storage, out.records, out.views, out.profile]).toEqual(['none', [], [], null]);
    expect(report).toHaveBeenCalledTimes(1);
    expect(report.mock.calls[0]![1]).toBe('loading the store');
    expect(await log.ready()).toBeUndefined();
    // A later hide is still copied: a page where the chunk loads will write it.
    log.recordView(snap('v1'), 'end');
    expect(localStorage.getItem('attnflow:unsaved:v1')).not.toBeNull();
    await log.forget();
    expect(localStorage.length).toBe(0);
  });
});

describe('with a log chunk from another release', () => {
  it('an incompatible chunk (left in a cache) is reported once like a missing one, and nothing throws', async () => {
    const missing = storeChunk.load;
    storeChunk.load = () => Promise.resolve({ createStore: () => ({}) }); // an older chunk's shape
    try {
      const report = vi.fn();
      const log = createLog({ retentionDays: 90, maxItemRecords: 50_000, report, log: () => {}, clock: { now: () => 5, epoch: () => 5 } });
      log.allow(true);
      log.recordView(snap('v2'), 'hide');
      await expect(log.flush()).resolves.toBeUndefined();
      expect((await log.export()).storage).toBe('none');
      expect(report).toHaveBeenCalledTimes(1);
      expect(report.mock.calls[0]![1]).toBe('loading the store');
      expect(report.mock.calls[0]![0]).toBeInstanceOf(TypeError);
    } finally {
      storeChunk.load = missing;
    }
  });
});

describe('without the detection chunk', () => {
  it('an unannotated page reports once and has no items; a marked-up page never needs the chunk', async () => {
    document.body.innerHTML = '<article><h2>One</h2></article><article><h2>Two</h2></article>';
    const report = vi.fn();
    const ids: string[] = [];
    const stop = observeItems((_el, id) => ids.push(id), { known: new WeakMap(), report });
    await new Promise((r) => setTimeout(r, 10));
    expect(ids).toEqual([]);
    expect(report).toHaveBeenCalledTimes(1);
    stop();

    document.body.innerHTML = '<div data-attn-item="m1"></div>';
    const marked = vi.fn();
    const stop2 = observeItems((_el, id) => ids.push(id), { known: new WeakMap(), report: marked });
    await new Promise((r) => setTimeout(r, 10));
    expect(ids).toEqual(['m1']);
    expect(marked).not.toHaveBeenCalled();
    stop2();
  });
});

describe('without the capture chunk', () => {
  it('clicks are still counted, with no rage or dead clicks, and the failure is reported once', async () => {
    document.body.innerHTML = '<article data-attn-item="a"><p id="p">x</p></article>';
    const errors: unknown[] = [];
    const af = createAttention({ requireConsent: true, onError: (e) => errors.push(e) });
    await new Promise((r) => setTimeout(r, 10));
    const p = document.getElementById('p')!;
    for (let i = 0; i < 3; i++) p.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    expect(af.snapshot().items.a).toMatchObject({ clicks: 3, rageClicks: 0, deadClicks: 0 });
    expect(errors.map(String)).toEqual(['Error: attnflow-capture.js: 404']);
    af.stop();
  });
});
