import { describe, expect, it } from 'vitest';
import { createAccount, type Placement } from '../../../src/attention/account';
import { HOVER_BOOST } from '../../../src/rules';

const meta = { startedAt: 1_700_000_000_000, viewId: 'v1', path: '/a' };
const full: Placement = { ratio: 1, share: 0.3, band: 0.5 };
const half = (band = 0.5): Placement => ({ ratio: 0.5, share: 0.5, band });

describe('attention accounting', () => {
  it('stops engaged time exactly idleAfterMs after the last input, and resumes on input', () => {
    const a = createAccount(5000, 0, meta);
    a.add('lead', ['sport']);
    a.place(0, 'lead', full);
    a.input(1000);
    a.input(2000); // inside the active window: moves its end to 7000
    let s = a.snapshot(10_000);
    expect(s.page).toMatchObject({ engagedMs: 7000, visibleMs: 10_000, ...meta });
    expect(s.items.lead).toMatchObject({ attentionMs: 7000, visibleMs: 10_000, viewableMs: 10_000, viewable: true, topics: ['sport'] });
    a.input(12_000);
    s = a.snapshot(13_000);
    expect(s.page.engagedMs).toBe(8000);
    expect(s.items.lead!.attentionMs).toBe(8000);
  });

  it('counts nothing while the tab is hidden and breaks the viewable run', () => {
    const a = createAccount(5000, 0, meta);
    a.place(0, 'x', full);
    a.page(700, false);
    // Coming back counts as input: active again from 5000 until 10000.
    a.page(5000, true);
    let s = a.snapshot(5500);
    expect(s.page).toMatchObject({ engagedMs: 1200, visibleMs: 1200 });
    expect(s.items.x).toMatchObject({ visibleMs: 1200, viewableMs: 1200, viewable: false });
    s = a.snapshot(6000);
    expect(s.items.x!.viewable).toBe(true);
    s = a.snapshot(12_000);
    expect(s.page).toMatchObject({ engagedMs: 5700, visibleMs: 7700 });
  });

  it('splits the unit of attention by on-screen share and centre band; shares sum to engaged time', () => {
    const a = createAccount(5000, 0, meta);
    a.place(0, 'top', half(0.5));
    a.place(0, 'bottom', half(0.5));
    let s = a.snapshot(2000);
    expect(s.items.top!.attentionMs).toBe(1000);
    expect(s.items.bottom!.attentionMs).toBe(1000);
    // The top item now holds most of the centre band: weights 0.4 + 0.8 against 0.4 + 0.2.
    a.place(2000, 'top', { ratio: 0.8, share: 0.4, band: 0.8 });
    a.place(2000, 'bottom', { ratio: 0.8, share: 0.4, band: 0.2 });
    s = a.snapshot(5000);
    expect(s.items.top!.attentionMs).toBe(3000);
    expect(s.items.bottom!.attentionMs).toBe(2000);
    expect(s.items.top!.attentionMs + s.items.bottom!.attentionMs).toBe(s.page.engagedMs);
  });

  it('gives attention to no item while none is on screen', () => {
    const a = createAccount(5000, 0, meta);
    a.place(0, 'x', full);
    a.place(1000, 'x', null);
    const s = a.snapshot(3000);
    expect(s.page.engagedMs).toBe(3000);
    expect(s.items.x).toMatchObject({ attentionMs: 1000, visibleMs: 1000 });
  });

  it('boosts the hovered item and counts hover time', () => {
    const a = createAccount(5000, 0, meta);
    a.place(0, 'a', half());
    a.place(0, 'b', half());
    a.hover(1000, ['a']);
    a.hover(3000, []);
    const s = a.snapshot(4000);
    expect(HOVER_BOOST).toBe(2);
    // 0–1 s and 3–4 s: half each; 1–3 s: 2 : 1.
    expect(s.items.a!.attentionMs).toBe(500 + 1333 + 500);
    expect(s.items.b!.attentionMs).toBe(500 + 667 + 500);
    expect(s.items.a!.hoverMs).toBe(2000);
    expect(s.items.b!.hoverMs).toBe(0);
  });

  it('ignores hover on items off screen, and counts it again when an item comes back under the pointer', () => {
    const a = createAccount(5000, 0, meta);
    a.place(0, 'a', full);
    a.hover(0, ['a', 'ghost']);
    a.place(1000, 'a', null);
    a.place(2000, 'a', full);
    a.hover(3000, []);
    a.place(3500, 'a', null);
    a.place(3600, 'a', full);
    const s = a.snapshot(4000);
    expect(s.items.a!.hoverMs).toBe(2000);
    expect(s.items.ghost).toBeUndefined();
  });

  it('hovers an item scrolled under a resting pointer before it was placed (the pointer event comes first)', () => {
    const a = createAccount(5000, 0, meta);
    a.place(0, 'a', full);
    a.hover(500, ['b']);
    a.place(1000, 'b', half());
    const s = a.snapshot(2000);
    expect(s.items.b!.hoverMs).toBe(1000);
    expect(s.items.a!.hoverMs).toBe(0);
  });

  it('applies the IAB rule: 50% in view for 1 s without a break; tall items by viewport share', () => {
    const a = createAccount(60_000, 0, meta);
    a.place(0, 'ad', { ratio: 0.6, share: 0.2, band: 0 });
    a.place(900, 'ad', { ratio: 0.4, share: 0.1, band: 0 });
    a.place(1000, 'ad', { ratio: 0.6, share: 0.2, band: 0 });
    let s = a.snapshot(1900);
    expect(s.items.ad).toMatchObject({ viewableMs: 1800, visibleMs: 1900, viewable: false, maxVisibleRatio: 0.6 });
    s = a.snapshot(2000);
    expect(s.items.ad!.viewable).toBe(true);

    // A tall item never has half its area in view, but covers 60% of the viewport.
    a.place(2000, 'tall', { ratio: 0.2, share: 0.6, band: 1 });
    s = a.snapshot(3000);
    expect(s.items.tall).toMatchObject({ viewableMs: 1000, viewable: true, maxVisibleRatio: 0.2 });
    a.place(3000, 'tall2', { ratio: 0.2, share: 0.4, band: 1 });
    s = a.snapshot(5000);
    expect(s.items.tall2).toMatchObject({ viewableMs: 0, viewable: false, visibleMs: 2000 });
  });

  it('marks an item skipped when seen ≥ 200 ms but given < 1 s of attention; a fling is not a skip', () => {
    const a = createAccount(5000, 0, meta);
    a.place(0, 'reading', { ratio: 1, share: 0.8, band: 1 });
    // Passed over: viewable 300 ms beside the item being read (weights 1.8 vs 0.2).
    a.place(0, 'passed', { ratio: 1, share: 0.1, band: 0.1 });
    a.place(300, 'passed', null);
    // Flung past: 150 ms on screen, too quick to recognise.
    a.place(400, 'flung', { ratio: 1, share: 0.1, band: 0.1 });
    a.place(550, 'flung', null);
    let s = a.snapshot(3000);
    expect(s.items.passed).toMatchObject({ viewableMs: 300, skipped: true });
    expect(s.items.flung).toMatchObject({ viewableMs: 150, skipped: false });
    expect(s.items.reading).toMatchObject({ skipped: false, viewable: true });
    expect(s.items.reading!.attentionMs).toBeGreaterThan(2900);

    // Seen long enough, but only partly in view: visible, never viewable, so never skipped.
    a.place(3000, 'edge', { ratio: 0.3, share: 0.05, band: 0 });
    s = a.snapshot(4000);
    expect(s.items.edge).toMatchObject({ viewableMs: 0, skipped: false });
  });

  it('keeps the visitor active while media plays', () => {
    const a = createAccount(1000, 0, meta);
    a.place(0, 'video', full);
    a.media(500, true);
    a.media(8000, false);
    const s = a.snapshot(20_000);
    expect(s.page.engagedMs).toBe(9000);
    expect(s.items.video!.attentionMs).toBe(9000);
  });

  it('counts clicks, rage and dead clicks per item and page, and the deepest scroll', () => {
    const a = createAccount(5000, 0, meta);
    a.place(0, 'x', full);
    a.click(['x'], 'clicks');
    a.click(['inner', 'x'], 'clicks');
    a.click(['x'], 'rageClicks');
    a.click([], 'deadClicks');
    a.click(['x'], 'deadClicks');
    a.depth(0.4);
    a.depth(0.3);
    const s = a.snapshot(100);
    expect(s.page).toMatchObject({ rageClicks: 1, deadClicks: 2, scrollDepth: 0.4 });
    expect(s.items.x).toMatchObject({ clicks: 2, rageClicks: 1, deadClicks: 1 });
    expect(s.items.inner).toMatchObject({ clicks: 1, rageClicks: 0 });
  });

  it('reports only items that were on screen or clicked', () => {
    const a = createAccount(5000, 0, meta);
    for (let i = 0; i < 1000; i++) a.add(`i${i}`);
    a.place(0, 'i3', full);
    expect(Object.keys(a.snapshot(10).items)).toEqual(['i3']);
  });

  it('starts a new view with zeroed numbers while items on screen stay on screen', () => {
    const a = createAccount(5000, 0, meta);
    a.place(0, 'x', full);
    a.place(0, 'gone', full);
    a.place(500, 'gone', null);
    a.click(['x'], 'rageClicks');
    a.depth(0.9);
    a.reset(2000, { startedAt: meta.startedAt + 2000, viewId: 'v2', path: '/b' });
    const s = a.snapshot(3000);
    expect(s.page).toMatchObject({ engagedMs: 1000, visibleMs: 1000, scrollDepth: 0, rageClicks: 0, viewId: 'v2', path: '/b' });
    expect(s.items.x).toMatchObject({ attentionMs: 1000, visibleMs: 1000, viewable: true, rageClicks: 0, maxVisibleRatio: 1 });
    expect(s.items.gone).toBeUndefined();
  });

  it('a snapshot of changes holds only the items whose numbers changed since the last one, with their whole numbers', () => {
    const a = createAccount(5000, 0, meta);
    for (let i = 0; i < 100; i++) a.add(`i${i}`);
    a.place(0, 'x', full);
    a.place(0, 'y', half());
    const keys = (s: ReturnType<typeof a.snapshot>) => Object.keys(s.items).sort();
    expect(keys(a.snapshot(1000, true))).toEqual(['x', 'y']);
    a.place(1000, 'y', null); // y leaves the screen: its last numbers are in the next one
    expect(keys(a.snapshot(2000, true))).toEqual(['x', 'y']);
    const s = a.snapshot(3000, true);
    expect(keys(s)).toEqual(['x']);
    expect(s.items.x).toEqual(a.snapshot(3000).items.x); // cumulative, not the change
    // A whole snapshot leaves the changes alone; a hidden page changes nothing.
    a.page(3000, false);
    expect(keys(a.snapshot(4000))).toEqual(['x', 'y']);
    expect(keys(a.snapshot(4000, true))).toEqual([]);
    a.click(['y'], 'clicks');
    expect(keys(a.snapshot(4000, true))).toEqual(['y']);
    expect(keys(a.snapshot(5000, true))).toEqual([]);
  });

  it('tick says whether anything changed since the last tick', () => {
    const a = createAccount(1000, 0, meta);
    a.place(0, 'x', full);
    expect(a.tick(500)).toBe(true);
    expect(a.tick(900)).toBe(true); // still engaged: time moved
    expect(a.tick(1500)).toBe(true); // the last engaged 100 ms
    expect(a.tick(2500)).toBe(false); // idle, nothing happened
    a.click(['x'], 'clicks');
    expect(a.tick(2600)).toBe(true);
    expect(a.tick(2700)).toBe(false);
  });

  it('ignores time going backwards', () => {
    const a = createAccount(5000, 0, meta);
    a.place(0, 'x', full);
    a.snapshot(1000);
    a.place(900, 'x', half());
    expect(a.snapshot(1000).page.visibleMs).toBe(1000);
  });
});
