import { describe, expect, it } from 'vitest';
import { hashString, seededRandom } from '../../../src/personalize/random';
import {
  addView,
  attendedCount,
  buildProfile,
  emptyProfile,
  profileScores,
  signalsKey,
  topicAffinities,
} from '../../../src/personalize/profile';
import { normalizeScores, pickVariant, rankContainer, sortByScore, topicDiversity } from '../../../src/personalize/rank';
import { explainItem } from '../../../src/personalize/explain';
import { blendScores, modelWeight, spearman } from '../../../src/personalize/blend';
import type { RankItem } from '../../../src/personalize/types';

const item = (id: string, ...topics: string[]): RankItem => ({ id, topics });
const ids = (items: RankItem[]) => items.map((i) => i.id);

describe('seeded randomness', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const xs = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(xs);
    expect(c()).not.toBe(xs[0]);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
  });
  it('hashes strings with FNV-1a', () => {
    expect(hashString('')).toBe(0x811c9dc5);
    expect(hashString('a')).toBe(0xe40c292c);
  });
});

describe('profile', () => {
  const log = [
    { itemId: 's1', topics: ['sport'], attentionMs: 6000 },
    { itemId: 's2', topics: ['sport', 'football'], attentionMs: 4000, clicks: 1 },
    { itemId: 'p1', topics: ['politics'], attentionMs: 100, skipped: true },
    { itemId: 'c1', topics: ['culture'], attentionMs: 900 },
  ];

  it('sums attention, clicks and skips per item and topic, counting attended items once', () => {
    const p = buildProfile(log);
    addView(p, [{ itemId: 's1', topics: ['sport'], attentionMs: 3000 }]);
    expect(p.items.s1).toEqual({ attentionMs: 9000, clicks: 0, skipped: 0, views: 2, topics: ['sport'] });
    expect(p.topics.sport).toEqual({
      attentionMs: 13000,
      attended: 2,
      clicks: 1,
      skipped: 0,
      top: [
        ['s1', 9000],
        ['s2', 4000],
      ],
    });
    expect(p.topics.football).toEqual({ attentionMs: 4000, attended: 1, clicks: 1, skipped: 0, top: [['s2', 4000]] });
    expect(p.topics.politics).toEqual({ attentionMs: 100, attended: 0, clicks: 0, skipped: 1, top: [] });
    expect(p.totals).toEqual({ items: 4, attended: 2, clicks: 1, skipped: 1 });
    // under 1 s of attention is a glance, not a read.
    expect(p.topics.culture!.attended).toBe(0);
    expect(attendedCount(p)).toBe(2);
  });

  it('turns the log into topic affinities: attention and clicks up, skips down', () => {
    const a = topicAffinities(buildProfile(log));
    // total = (6000+4000+100+900) + 4000(football) + 3000*2 clicks + 300 skip = 21300
    expect(a.sport).toBeCloseTo((10000 + 3000) / 21300, 9);
    expect(a.football).toBeCloseTo((4000 + 3000) / 21300, 9);
    expect(a.politics).toBeCloseTo((100 - 300) / 21300, 9);
    expect(a.culture).toBeCloseTo(900 / 21300, 9);
    expect(topicAffinities(emptyProfile())).toEqual({});
  });

  it('scores items by the mean affinity of their topics; unknown topics are 0', () => {
    const s = profileScores(buildProfile(log), [
      item('new-sport', 'sport'),
      item('mixed', 'sport', 'politics'),
      item('tech', 'tech'),
      item('none'),
      item('p1', 'politics'),
    ]);
    expect(s['new-sport']).toBeCloseTo(13000 / 21300, 5);
    expect(s.mixed).toBeCloseTo((13000 - 200) / 2 / 21300, 5);
    expect(s.tech).toBe(0);
    expect(s.none).toBe(0);
    // the skipped item itself is pushed a little further down than its topic
    expect(s.p1).toBeCloseTo(-200 / 21300 - 0.02, 5);
    const order = ids(sortByScore([item('tech', 'tech'), item('p1', 'politics'), item('new-sport', 'sport')], s));
    expect(order).toEqual(['new-sport', 'tech', 'p1']);
  });

  it('keys the seed on signals, so a reload without new signals keeps it', () => {
    const p = buildProfile(log);
    const key = signalsKey(p);
    expect(key).toBe('2.1.1');
    addView(p, [{ itemId: 'c1', topics: ['culture'], attentionMs: 50 }]);
    expect(signalsKey(p)).toBe(key);
    addView(p, [{ itemId: 'c1', topics: ['culture'], attentionMs: 2000 }]);
    expect(signalsKey(p)).toBe('3.1.1');
  });
});

describe('rankContainer', () => {
  const items = [item('a', 'x'), item('b', 'y'), item('c', 'z'), item('d', 'x'), item('e', 'y')];
  const scores = { a: 0.1, b: 0.5, c: 0.9, d: 0.3, e: 0.7 };

  it('orders by score with ties and missing scores in page order', () => {
    const r = rankContainer(items, scores, { seed: 1, explore: 0 });
    expect(r.order).toEqual(['c', 'e', 'b', 'd', 'a']);
    expect(r.changed).toBe(true);
    expect(ids(sortByScore(items, { b: 1, d: 1 }))).toEqual(['b', 'd', 'a', 'c', 'e']);
  });

  it('keeps the first N in place and limits what is shown', () => {
    const r = rankContainer(items, scores, { seed: 1, explore: 0, keep: 2, limit: 4 });
    expect(r.order).toEqual(['a', 'b', 'c', 'e', 'd']);
    expect(r.kept).toEqual(['a', 'b']);
    expect(r.shown).toEqual(['a', 'b', 'c', 'e']);
    expect(r.hidden).toEqual(['d']);
  });

  it('reports no change when the page order is already the best', () => {
    const r = rankContainer(items, { a: 5, b: 4, c: 3, d: 2, e: 1 }, { seed: 1, explore: 0 });
    expect(r.changed).toBe(false);
    expect(r.explored).toBeUndefined();
  });

  it('is deterministic per seed', () => {
    const seen = (id: string) => id !== 'a';
    const runs = new Set<string>();
    for (let i = 0; i < 5; i++) runs.add(rankContainer(items, scores, { seed: 7, explore: 0.5, seen }).order.join());
    expect(runs.size).toBe(1);
  });

  it('explores: gives a never-seen item a top slot in the configured share of views', () => {
    // 'a' scores lowest and is the only item never seen: only exploration lifts it.
    const seen = (id: string) => id !== 'a';
    for (const rate of [0, 0.1, 0.3]) {
      let top = 0;
      const n = 4000;
      for (let seed = 0; seed < n; seed++) {
        const r = rankContainer(items, scores, { seed, explore: rate, exploreSlots: 3, seen });
        const pos = r.order.indexOf('a');
        if (pos < 3) {
          top++;
          expect(r.explored).toBe('a');
        } else {
          expect(pos).toBe(4);
        }
      }
      expect(Math.abs(top / n - rate)).toBeLessThan(0.02);
    }
  });

  it('never explores when everything has been seen, or into kept slots', () => {
    for (let seed = 0; seed < 200; seed++) {
      expect(rankContainer(items, scores, { seed, explore: 1, seen: () => true }).order).toEqual(['c', 'e', 'b', 'd', 'a']);
      const r = rankContainer(items, scores, { seed, explore: 1, keep: 1, seen: (id) => id !== 'd' });
      expect(r.order[0]).toBe('a');
      expect(r.order.indexOf('d')).toBeLessThan(4);
    }
  });
});

describe('pickVariant', () => {
  const alts = [item('hero-a', 'sport'), item('hero-b', 'politics'), item('hero-c', 'tech')];
  it('shows the best scored alternative', () => {
    expect(pickVariant('hero', alts, { 'hero-a': 0.1, 'hero-b': 0.8, 'hero-c': 0.2 }, { seed: 3, explore: 0 })).toEqual({
      shown: 'hero-b',
      explored: false,
    });
  });
  it('keeps the page default while nothing is known', () => {
    expect(pickVariant('hero', alts, {}, { seed: 3, explore: 0, fallback: 'hero-c' })).toEqual({ shown: 'hero-c', explored: false });
    expect(pickVariant('hero', alts, { 'hero-a': 0, 'hero-b': 0, 'hero-c': 0 }, { seed: 3, explore: 0, fallback: 'hero-b' })!.shown).toBe(
      'hero-b',
    );
  });
  it('explores unseen alternatives at the configured rate', () => {
    let explored = 0;
    for (let seed = 0; seed < 2000; seed++) {
      const r = pickVariant(
        'hero',
        alts,
        { 'hero-a': 1, 'hero-b': 0, 'hero-c': 0 },
        { seed, explore: 0.2, seen: (id) => id !== 'hero-c' },
      )!;
      if (r.explored) {
        explored++;
        expect(r.shown).toBe('hero-c');
      } else expect(r.shown).toBe('hero-a');
    }
    expect(Math.abs(explored / 2000 - 0.2)).toBeLessThan(0.03);
  });
});

describe('topicDiversity and normalizeScores', () => {
  it('reports the topics of the top slots', () => {
    expect(topicDiversity([item('a', 'sport'), item('b', 'sport'), item('c', 'sport'), item('d', 'tech')])).toEqual({
      slots: 3,
      topics: ['sport'],
      topShare: 1,
      entropy: 0,
    });
    expect(topicDiversity([item('a', 'sport'), item('b', 'tech'), item('c', 'art')])).toEqual({
      slots: 3,
      topics: ['sport', 'tech', 'art'],
      topShare: 0.333,
      entropy: 1,
    });
    expect(topicDiversity([item('a', 'sport'), item('b', 'sport'), item('c', 'art')]).topShare).toBe(0.667);
  });
  it('normalises scores into 0..1', () => {
    expect(normalizeScores({ a: -2, b: 0, c: 2 }, ['a', 'b', 'c', 'd'])).toEqual({ a: 0, b: 0.5, c: 1 });
    expect(normalizeScores({ a: 3, b: 3 }, ['a', 'b'])).toEqual({ a: 0.5, b: 0.5 });
  });
});

describe('explainItem', () => {
  const profile = buildProfile([
    { itemId: 's1', topics: ['sport'], attentionMs: 12000 },
    { itemId: 's2', topics: ['sport'], attentionMs: 8000 },
    { itemId: 's3', topics: ['sport'], attentionMs: 4000 },
    { itemId: 'p1', topics: ['politics'], attentionMs: 200, skipped: true },
    { itemId: 'p2', topics: ['politics'], attentionMs: 100, skipped: true },
  ]);
  it('names the driving topic with the visitor’s numbers', () => {
    const e = explainItem(item('s9', 'sport', 'politics'), profile, { score: 0.9, rank: 0, originalRank: 7 });
    expect(e.drivers[0]).toMatchObject({ topic: 'sport', attentionMs: 24000, attended: 3 });
    expect(e.because[0]).toBe('You read 3 sport items (24 s of attention)');
    expect(e.because[1]).toBe('You passed over 2 politics items, so it ranks lower');
    expect(e.similar).toEqual(['s1', 's2', 's3']);
    expect(e).toMatchObject({
      itemId: 's9',
      score: 0.9,
      rank: 0,
      originalRank: 7,
      explored: false,
      kept: false,
      topics: ['sport', 'politics'],
    });
  });
  it('says when exploration or the site placed it, and when nothing is known', () => {
    const e = explainItem(item('t1', 'tech'), profile, { explored: true });
    expect(e.because).toEqual(['Something new: shown to explore, so your page does not narrow to one topic']);
    expect(explainItem(item('t1', 'tech'), emptyProfile()).because).toEqual([
      'Nothing is known about you yet: shown in the site’s own order',
    ]);
    expect(explainItem(item('t1', 'tech'), profile, { kept: true }).because[0]).toBe('Pinned in place by the site');
    const glance = buildProfile([{ itemId: 'g1', topics: ['tech'], attentionMs: 500 }]);
    expect(explainItem(item('t2', 'tech'), glance).because).toEqual(['You looked at tech items for 0.5 s']);
  });
});

describe('model trust and blending', () => {
  const seenProfile = buildProfile([
    { itemId: 'i1', topics: ['x'], attentionMs: 5000 },
    { itemId: 'i2', topics: ['x'], attentionMs: 4000 },
    { itemId: 'i3', topics: ['y'], attentionMs: 3000 },
    { itemId: 'i4', topics: ['y'], attentionMs: 200, skipped: true },
    { itemId: 'i5', topics: ['z'], attentionMs: 100, skipped: true },
  ]);
  const ids = ['i1', 'i2', 'i3', 'i4', 'i5', 'new'];

  it('ranks with Spearman correlation, ties averaged', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBe(1);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBe(-1);
    expect(spearman([1, 1, 1], [1, 2, 3])).toBe(0);
    expect(spearman([1, 2, 2, 3], [1, 2, 3, 4])).toBeCloseTo(0.9487, 4);
  });

  it('trusts a model as far as it agrees with the visitor’s own attention', () => {
    const agrees = { i1: 0.9, i2: 0.8, i3: 0.5, i4: 0.1, i5: 0, new: 0.3 };
    const disagrees = { i1: 0, i2: 0.1, i3: 0.5, i4: 0.8, i5: 0.9, new: 0.3 };
    expect(modelWeight(agrees, seenProfile, ids)).toBe(1);
    expect(modelWeight(disagrees, seenProfile, ids)).toBe(0);
    // Too little seen to judge it by: no weight, or the weight the site gives its own model.
    expect(modelWeight(agrees, buildProfile([{ itemId: 'i1', attentionMs: 5000 }]), ids)).toBe(0);
    expect(modelWeight(agrees, buildProfile([{ itemId: 'i1', attentionMs: 5000 }]), ids, 0.5)).toBe(0.5);
    // Enough seen: the agreement decides, for the site's model too.
    expect(modelWeight(disagrees, seenProfile, ids, 0.5)).toBe(0);
  });

  it('blends standardised scores; weight 0 leaves the profile scores as they are', () => {
    const profile = { a: 1, b: 0, c: -1 };
    const model = { a: -10, b: 0, c: 10 };
    expect(blendScores(profile, model, ['a', 'b', 'c'], 0)).toBe(profile);
    const half = blendScores(profile, model, ['a', 'b', 'c'], 0.5);
    expect(half).toEqual({ a: 0, b: 0, c: 0 });
    const full = blendScores(profile, model, ['a', 'b', 'c'], 1);
    expect(full.c).toBeGreaterThan(full.a!);
  });
});
