// @vitest-environment happy-dom
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createPersonalizer, type PersonalizeHost } from '../../../src/personalize/personalizer';
import { buildProfile } from '../../../src/personalize/profile';
import type { PersonalizeReport, Scores } from '../../../src/personalize/types';
import type { AttentionSnapshot } from '../../../src/types';

// The container holds items the visitor has seen before, so the model can be judged on them.
const ORDER = ['x0', 'y0', 'x9', 'y9', 'z0', 'z9'];
const snapshot = (): AttentionSnapshot =>
  ({
    page: { engagedMs: 0, visibleMs: 0, scrollDepth: 0, startedAt: 0, viewId: 'v-now', path: '/', rageClicks: 0, deadClicks: 0 },
    items: {},
  }) as AttentionSnapshot;
// The visitor read y-topic items in earlier views and passed over x ones.
const history = [
  { itemId: 'y0', topics: ['y'], attentionMs: 6000, viewId: 'v1' },
  { itemId: 'y9', topics: ['y'], attentionMs: 4000, viewId: 'v1' },
  { itemId: 'x0', topics: ['x'], attentionMs: 200, skipped: true, viewId: 'v1' },
  { itemId: 'x9', topics: ['x'], attentionMs: 100, skipped: true, viewId: 'v2' },
  { itemId: 'z0', topics: ['z'], attentionMs: 1500, viewId: 'v2' },
  { itemId: 'z9', topics: ['z'], attentionMs: 1200, viewId: 'v2' },
];

function host(scores?: PersonalizeHost['scores']) {
  const reports: PersonalizeReport[] = [];
  const h: PersonalizeHost = {
    root: document,
    snapshot,
    onSnapshot: () => () => {},
    emit: (r) => reports.push(r),
    report: (e) => {
      throw e;
    },
    canStore: () => true,
    known: async () => buildProfile(history),
    explore: 0,
    scores,
  };
  return { h, reports };
}

const dom = () => [...document.querySelectorAll('[data-attn-rank] > [data-attn-item]')].map((e) => e.getAttribute('data-attn-item'));

beforeEach(() => {
  localStorage.clear();
  document.body.innerHTML = `<section data-attn-rank="main">${ORDER.map((id) => `<article data-attn-item="${id}" data-attn-topics="${id[0]}"></article>`).join('')}</section>`;
});

describe('createPersonalizer', () => {
  it('decides from topic affinities of the log and applies before first paint, with the CSS hooks', async () => {
    const { h, reports } = host();
    const p = createPersonalizer(h);
    const r = (await p.personalize())!;
    expect(r.source).toBe('profile');
    expect(r.containers[0]!.order).toEqual(['y0', 'y9', 'z0', 'z9', 'x0', 'x9']);
    expect(r.containers[0]!.applied).toBe(true);
    expect(dom()).toEqual(['y0', 'y9', 'z0', 'z9', 'x0', 'x9']);
    expect(document.querySelector('[data-attn-rank]')!.classList.contains('attn-personalized')).toBe(true);
    expect((document.querySelector('[data-attn-item="y0"]') as HTMLElement).style.getPropertyValue('--attn-score')).toBe('1');
    expect(JSON.parse(localStorage.getItem('attnflow:rank')!)).toEqual({ c: { main: ['y0', 'y9', 'z0', 'z9', 'x0', 'x9'] }, v: {} });
    expect(reports).toHaveLength(1);
    p.stop();
  });

  async function withModel(model: Scores) {
    let answer!: (s: Scores) => void;
    let calls = 0;
    const scores = vi.fn(() => (++calls === 1 ? new Promise<Scores>((r) => (answer = r)) : Promise.resolve(model)));
    const { h, reports } = host(scores);
    const p = createPersonalizer(h);
    const first = (await p.personalize())!;
    // The first decision does not wait for the model.
    expect(first).toMatchObject({ source: 'profile', modelWeight: 0 });
    answer(model);
    // Its first answer makes the page decide again.
    await vi.waitFor(() => expect(reports).toHaveLength(2));
    p.stop();
    return reports[1]!;
  }

  it('a model that agrees with what the visitor read decides', async () => {
    const agrees: Scores = { y9: 9, y0: 8, z9: 5, z0: 4, x9: 1, x0: 0 };
    const r = await withModel(agrees);
    expect(r).toMatchObject({ source: 'model', modelWeight: 1 });
    expect(r.containers[0]!.order).toEqual(['y9', 'y0', 'z9', 'z0', 'x9', 'x0']);
    expect(dom()).toEqual(['y9', 'y0', 'z9', 'z0', 'x9', 'x0']);
  });

  it('a model that ranks what the visitor skipped first gets no weight', async () => {
    const contrary: Scores = { x0: 9, x9: 8, z0: 3, z9: 3, y0: 0, y9: 0 };
    const r = await withModel(contrary);
    expect(r).toMatchObject({ source: 'profile', modelWeight: 0 });
    expect(dom()).toEqual(['y0', 'y9', 'z0', 'z9', 'x0', 'x9']);
  });

  /** A first visit (nothing in the log), with a model whose weights did or did not come from the site. */
  async function newcomer(site: boolean) {
    const model: Scores = { z9: 9, x9: 8, y0: 5, z0: 4, x0: 1, y9: 0 };
    const { h, reports } = host(vi.fn(async () => model));
    h.known = async () => buildProfile([]);
    h.modelState = () => ({ steps: 0, training: false, site });
    const p = createPersonalizer(h);
    expect((await p.personalize())!.containers[0]!.order).toEqual(ORDER);
    await vi.waitFor(() => expect(reports).toHaveLength(2));
    p.stop();
    return reports[1]!;
  }

  it("orders a newcomer's page by the site's own model, half-trusted, with nothing yet to judge it by", async () => {
    const r = await newcomer(true);
    expect(r).toMatchObject({ source: 'model', modelWeight: 0.5 });
    expect(dom()).toEqual(['z9', 'x9', 'y0', 'z0', 'x0', 'y9']);
  });

  it("leaves a newcomer's page alone with a model of the visitor's own, which nothing has judged yet", async () => {
    const r = await newcomer(false);
    expect(r).toMatchObject({ source: 'profile', modelWeight: 0 });
    expect(dom()).toEqual(ORDER);
  });

  it("keeps a held-out page in the page's own order, says so, and leaves the cached order to the personalized pages", async () => {
    localStorage.setItem('attnflow:rank', JSON.stringify({ c: { main: ['z0', 'y0'] }, v: {} }));
    document.body.insertAdjacentHTML(
      'beforeend',
      '<div data-attn-variant="hero" data-attn-item="h-x" data-attn-topics="x"></div><div data-attn-variant="hero" data-attn-item="h-y" data-attn-topics="y" hidden></div>',
    );
    const { h, reports } = host();
    h.held = true;
    h.explore = 1;
    const p = createPersonalizer(h);
    const r = (await p.personalize())!;
    expect(r.holdout).toBe(true);
    expect(r.containers[0]!.order).toEqual(ORDER);
    expect(r.containers[0]!.explored).toBeUndefined();
    expect(dom()).toEqual(ORDER);
    // The variant shown is the page's own, not the y alternative the visitor's affinities favour.
    expect(r.variants[0]).toMatchObject({ group: 'hero', shown: 'h-x', explored: false });
    expect((document.querySelector('[data-attn-item="h-y"]') as HTMLElement).hidden).toBe(true);
    expect(JSON.parse(localStorage.getItem('attnflow:rank')!)).toEqual({ c: { main: ['z0', 'y0'] }, v: {} });
    expect(reports).toHaveLength(1);
    p.stop();

    // The same page outside the holdout is personalized.
    const other = host();
    const q = createPersonalizer(other.h);
    const s = (await q.personalize())!;
    expect(s.holdout).toBe(false);
    expect(dom()).toEqual(['y0', 'y9', 'z0', 'z9', 'x0', 'x9']);
    expect(s.variants[0]!.shown).toBe('h-y');
    q.stop();
  });

  it('explains an item from the log, with its place', async () => {
    const { h } = host();
    const p = createPersonalizer(h);
    await p.personalize();
    const e = (await p.explain('y9'))!;
    expect(e).toMatchObject({ itemId: 'y9', topics: ['y'], rank: 1, originalRank: 3, explored: false, kept: false });
    expect(e.because).toEqual(['You read 2 y items (10 s of attention)', 'You already spent 4.0 s on this item']);
    expect(await p.explain('nope')).toBeUndefined();
    p.forget();
    expect(localStorage.getItem('attnflow:rank')).toBeNull();
    p.stop();
  });

  it("asks the log only for the items that come up: the page's, then one explained off the page", async () => {
    const asked: string[][] = [];
    const { h } = host();
    const log = [...history, { itemId: 'elsewhere', topics: ['y'], attentionMs: 9000, viewId: 'v0' }];
    // As the store answers: every topic and the totals, and of the items only those asked for.
    h.known = async (ids) => {
      asked.push([...ids].sort());
      const all = buildProfile(log);
      return { ...all, items: Object.fromEntries(Object.entries(all.items).filter(([id]) => ids.includes(id))) };
    };
    const p = createPersonalizer(h);
    const r = (await p.personalize())!;
    expect(asked).toEqual([[...ORDER].sort()]);
    // The totals count the whole log, not only the items read back.
    expect(r.attended).toBe(5);
    const e = (await p.explain('elsewhere'))!;
    expect(asked).toEqual([[...ORDER].sort(), ['elsewhere']]);
    expect(e.topics).toEqual(['y']);
    expect(e.because).toContain('You already spent 9.0 s on this item');
    // The topic's most attended items come from the log, this one left out.
    expect(e.similar).toEqual(['y0', 'y9']);
    p.stop();
  });
});
