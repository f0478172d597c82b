/**
 * The questions of format v2: the list a collector derives from its catalogue (order, kinds, names
 * that cannot be read back refused, the length limit), and a device's true answer to each from its
 * period summary (every kind's rule, amounts clipped at their cap and turned into a coin whose mean is
 * the clipped share, the median depth's bucket, containers with and without views), bounded to one
 * answer in range whatever the summary holds, and never throwing on a malformed summary.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../src/model/hash';
import {
  ARMS,
  answers,
  CONTAINER_KINDS,
  DEPTH_EDGES,
  depthBucket,
  ITEM_CAP_MS,
  ITEM_KINDS,
  isName,
  MAX_NAME_LENGTH,
  MAX_QUESTION_LENGTH,
  parseQuestion,
  questionsOf,
  trueAnswer,
  VIEW_CAP_MS,
} from '../../../src/report/questions';
import type { ContainerView, PeriodSummary } from '../../../src/report/types';
import { ATTENDED_MS } from '../../../src/rules';
import { answerShares, COLLECTOR, counting, EMPTY, item, population, scripted } from './fixtures';

/** The answer with a coin that never comes up (rand ≈ 1) and one that always does (rand 0). */
const never = () => 1 - 2 ** -53;
const always = () => 0;
const answer = (summary: PeriodSummary, q: string) => trueAnswer(summary, q, never);
const items = (...list: PeriodSummary['items']): PeriodSummary => ({ items: list, depths: [], containers: [] });
const depths = (...list: number[]): PeriodSummary => ({ items: [], depths: list, containers: [] });
const views = (...list: ContainerView[]): PeriodSummary => ({ items: [], depths: [], containers: list });

/** Checks that the amount coin of `q` comes up exactly when the draw is below `share`. */
function expectCoin(summary: PeriodSummary, q: string, share: number) {
  if (share > 0)
    expect(
      trueAnswer(summary, q, () => share * (1 - 1e-12)),
      `${q} just below ${share}`,
    ).toBe(1);
  if (share < 1)
    expect(
      trueAnswer(summary, q, () => share),
      `${q} at ${share}`,
    ).toBe(0);
  expect(trueAnswer(summary, q, always)).toBe(+(share > 0));
  expect(trueAnswer(summary, q, never)).toBe(+(share >= 1));
}

describe('constants', () => {
  it('are the contract’s', () => {
    expect(ITEM_KINDS).toEqual(['v', 'w', 'a', 'k', 'c', 't']);
    expect(CONTAINER_KINDS).toEqual(['n', 'o']);
    expect(ARMS).toEqual(['p', 'h']);
    expect(ITEM_CAP_MS).toBe(30_000);
    expect(VIEW_CAP_MS).toBe(30_000);
    expect(DEPTH_EDGES).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(MAX_NAME_LENGTH).toBe(200);
    expect(MAX_QUESTION_LENGTH).toBe(204);
  });

  it('bucket depths by their lower edges, 4 only at the bottom', () => {
    const ds = [-1, 0, 0.2499, 0.25, 0.4999, 0.5, 0.7499, 0.75, 0.9999, 1, 1.5];
    expect(ds.map(depthBucket)).toEqual([0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  });
});

describe('isName', () => {
  it('takes 1 to 200 characters without a control character', () => {
    for (const name of ['item-0', 'a', 'with space', 'ünïcødé ✓', '/path/to?x=1', 'x'.repeat(MAX_QUESTION_LENGTH - 4)]) {
      expect(isName(name), name).toBe(true);
    }
    for (const name of [
      '',
      'a\tb',
      'a\nb',
      'a\rb',
      '\t',
      'a\u0000b',
      'a\u0001b',
      'a\u007fb',
      'x'.repeat(MAX_QUESTION_LENGTH - 3),
      1,
      null,
      undefined,
      ['a'],
      { id: 'a' },
    ]) {
      expect(isName(name), JSON.stringify(name)).toBe(false);
    }
  });
});

describe('questionsOf', () => {
  it('lists each item’s six questions, then the depth, then each container’s four, in that order', () => {
    expect(questionsOf({ items: [{ id: 'a' }, { id: 'b' }], containers: ['x', 'y'] })).toEqual([
      'v\ta',
      'w\ta',
      'a\ta',
      'k\ta',
      'c\ta',
      't\ta',
      'v\tb',
      'w\tb',
      'a\tb',
      'k\tb',
      'c\tb',
      't\tb',
      'd',
      'n\tx\tp',
      'o\tx\tp',
      'n\tx\th',
      'o\tx\th',
      'n\ty\tp',
      'o\ty\tp',
      'n\ty\th',
      'o\ty\th',
    ]);
    expect(questionsOf({ items: [], containers: [] })).toEqual(['d']);
  });

  it('gives every question once, each readable back with its number of answers', () => {
    const qs = questionsOf(COLLECTOR);
    expect(qs).toHaveLength(6 * COLLECTOR.items.length + 1 + 4 * COLLECTOR.containers.length);
    expect(new Set(qs).size).toBe(qs.length);
    for (const q of qs) {
      const parsed = parseQuestion(q);
      expect(parsed, q).toBeDefined();
      expect(answers(q)).toBe(q === 'd' ? 5 : 2);
    }
  });
});

describe('parseQuestion and answers', () => {
  it('read the three forms', () => {
    expect(parseQuestion('d')).toEqual({ kind: 'd' });
    for (const kind of ITEM_KINDS) expect(parseQuestion(`${kind}\titem-1`)).toEqual({ kind, item: 'item-1' });
    for (const kind of CONTAINER_KINDS) {
      for (const arm of ARMS) expect(parseQuestion(`${kind}\tfor-you\t${arm}`)).toEqual({ kind, container: 'for-you', arm });
    }
    expect(answers('d')).toBe(5);
    expect(answers('t\titem-1')).toBe(2);
    expect(answers('o\tfor-you\th')).toBe(2);
  });

  it('refuse what is not a question, with 0 answers', () => {
    const bad: unknown[] = [
      '',
      'D',
      'd\t',
      'd\t0',
      'x\titem',
      'v',
      'v\t',
      'v\ta\tb',
      'v\ta\tp',
      'n\tc',
      'o\tc\tx',
      'o\tc\tP',
      'n\tc\tp\t',
      'o\t\tp',
      't\titem\t2', // a v1 value
      '\u0000',
      'v\ta\nb',
      'v\ta\rb',
      'v\ta\t\tb',
      ' v\ta',
      'v a',
      'n\ta\tb\tp', // a container name with a tab
      1,
      null,
      undefined,
      ['v', 'a'],
      { kind: 'v', item: 'a' },
    ];
    for (const q of bad) {
      expect(parseQuestion(q), JSON.stringify(q)).toBeUndefined();
      if (typeof q === 'string') expect(answers(q), JSON.stringify(q)).toBe(0);
    }
  });

  it('hold questions to 204 characters, names to 200', () => {
    const name = 'x'.repeat(MAX_QUESTION_LENGTH - 4);
    const item = `v\t${name}`;
    const container = `n\t${name}\tp`;
    expect(container).toHaveLength(MAX_QUESTION_LENGTH);
    expect(parseQuestion(item)).toEqual({ kind: 'v', item: name });
    expect(parseQuestion(container)).toEqual({ kind: 'n', container: name, arm: 'p' });
    expect(parseQuestion(`v\t${name}x`)).toBeUndefined();
    expect(parseQuestion(`n\t${name}x\tp`)).toBeUndefined();
    expect(parseQuestion(`v\t${'x'.repeat(10_000)}`)).toBeUndefined();
    expect(answers(`n\t${name}x\tp`)).toBe(0);
  });
});

describe('trueAnswer: items', () => {
  it('answers v, w and c from the item’s views, viewable views and clicks', () => {
    const s = items(
      item('all'),
      item('seen', { viewable: 0, attended: 0, clicks: 0, attentionMs: 200 }),
      item('viewable', { attended: 0, clicks: 0, attentionMs: 400 }),
      item('zero', { views: 0, viewable: 0, attended: 0, clicks: 0, attentionMs: 0 }),
    );
    const table = (id: string) => (['v', 'w', 'c'] as const).map((k) => answer(s, `${k}\t${id}`));
    expect(table('all')).toEqual([1, 1, 1]);
    expect(table('seen')).toEqual([1, 0, 0]);
    expect(table('viewable')).toEqual([1, 1, 0]);
    expect(table('zero')).toEqual([0, 0, 0]);
    // An item the summary does not hold: every answer 0.
    for (const kind of ITEM_KINDS) expect(trueAnswer(s, `${kind}\tabsent`, always)).toBe(0);
  });

  it('answers a by the attended rule on the period’s summed attention and clicks, or a view that was attended', () => {
    const q = (id: string) => answer(s, `a\t${id}`);
    const s = items(
      item('view', { attended: 1, clicks: 0, attentionMs: 10 }),
      item('sum', { attended: 0, clicks: 0, attentionMs: ATTENDED_MS / 2 }),
      item('sum', { attended: 0, clicks: 0, attentionMs: ATTENDED_MS / 2 }),
      item('edge', { attended: 0, clicks: 0, attentionMs: ATTENDED_MS }),
      item('under', { attended: 0, clicks: 0, attentionMs: ATTENDED_MS - 1 }),
      item('click', { attended: 0, clicks: 1, attentionMs: 0 }),
      item('short', { attended: 0, clicks: 0, attentionMs: 400 }),
      item('short', { attended: 0, clicks: 0, attentionMs: 400 }),
    );
    expect(['view', 'sum', 'edge', 'under', 'click', 'short'].map(q)).toEqual([1, 1, 1, 0, 1, 0]);
  });

  it('answers k only for an item skipped and not attended over the period', () => {
    const q = (id: string) => answer(s, `k\t${id}`);
    const s = items(
      item('skip', { attended: 0, clicks: 0, skipped: 1, attentionMs: 300 }),
      // Skipped in one view, attended in another.
      item('both', { attended: 0, clicks: 0, skipped: 1, attentionMs: 300 }),
      item('both', { attended: 1, clicks: 0, skipped: 0, attentionMs: 4000 }),
      // Skipped twice, but the two add up to an attended second.
      item('adds', { attended: 0, clicks: 0, skipped: 1, attentionMs: 600 }),
      item('adds', { attended: 0, clicks: 0, skipped: 1, attentionMs: 600 }),
      // Skipped with a click.
      item('click', { attended: 0, clicks: 1, skipped: 1, attentionMs: 10 }),
      item('never', { attended: 0, clicks: 0, skipped: 0, attentionMs: 10 }),
    );
    expect(['skip', 'both', 'adds', 'click', 'never'].map(q)).toEqual([1, 0, 0, 0, 0]);
    expect(answer(s, 'a\tadds')).toBe(1);
  });

  it('answers t with a coin of probability min(attention, 30 s)/30 s, attention summed over the entries', () => {
    expectCoin(items(item('x', { attentionMs: 7_500 })), 't\tx', 0.25);
    expectCoin(items(item('x', { attentionMs: 7_500 }), item('x', { attentionMs: 15_000 })), 't\tx', 0.75);
    expectCoin(items(item('x', { attentionMs: 29_999 })), 't\tx', 29_999 / 30_000);
    // Clipped at the cap: more attention than that says no more.
    for (const ms of [30_000, 30_001, 60_000, 120_000, 1e12]) expectCoin(items(item('x', { attentionMs: ms })), 't\tx', 1);
    // Clipped over the period, not per entry: two entries under the cap that add up past it.
    expectCoin(items(item('x', { attentionMs: 20_000 }), item('x', { attentionMs: 20_000 })), 't\tx', 1);
    expectCoin(items(item('x', { attentionMs: 0 })), 't\tx', 0);
    expectCoin(EMPTY, 't\tx', 0);
  });

  it('gives t a coin whose mean over draws is the clipped share', () => {
    const rand = mulberry32(31);
    const DRAWS = 20_000;
    for (const ms of [0, 1000, 7_500, 22_500, 30_000, 150_000]) {
      const s = items(item('x', { attentionMs: ms }));
      let ones = 0;
      for (let i = 0; i < DRAWS; i++) ones += trueAnswer(s, 't\tx', rand);
      const share = Math.min(ms, 30_000) / 30_000;
      expect(Math.abs(ones / DRAWS - share), `${ms} ms`).toBeLessThanOrEqual(4.5 * Math.sqrt((share * (1 - share)) / DRAWS));
    }
  });

  it('draws one number for an amount, none for a yes/no', () => {
    const s = population(1, 3)[0]!;
    for (const q of questionsOf(COLLECTOR).filter((q) => q[0] !== 'o')) {
      const rand = counting(mulberry32(1));
      trueAnswer(s, q, rand);
      expect(rand.count(), q).toBe(q[0] === 't' ? 1 : 0);
    }
  });
});

describe('trueAnswer: depth', () => {
  it('answers the bucket of the median view depth, 0 without views', () => {
    expect(answer(EMPTY, 'd')).toBe(0);
    expect(answer(depths(0.6), 'd')).toBe(2);
    expect(answer(depths(0.9, 0.1, 0.3), 'd')).toBe(1);
    // An even count: the mean of the two middle depths.
    expect(answer(depths(0.2, 0.3), 'd')).toBe(1);
    expect(answer(depths(0.2, 0.29), 'd')).toBe(0);
    expect(answer(depths(0, 0.1, 1, 1), 'd')).toBe(2);
    // The bottom only when the median view reached it.
    expect(answer(depths(1, 1, 0.2), 'd')).toBe(4);
    expect(answer(depths(1, 0.99), 'd')).toBe(3);
    expect(answer(depths(1, 1, 1, 0, 0), 'd')).toBe(4);
    expect(answer(depths(0.8, 0.8, 0.8, 1, 1), 'd')).toBe(3);
  });

  it('leaves out depths that are not finite numbers and does not reorder the summary', () => {
    const list = [0.9, Number.NaN, 0.1, Number.POSITIVE_INFINITY, 0.8, Number.NEGATIVE_INFINITY];
    const s = depths(...list);
    expect(answer(s, 'd')).toBe(3);
    expect(s.depths).toEqual(list);
    expect(answer(depths(Number.NaN), 'd')).toBe(0);
    expect(answer({ items: [], containers: [], depths: ['0.9', null, 0.6] as unknown as number[] }, 'd')).toBe(2);
  });

  it('draws nothing', () => {
    const rand = counting(mulberry32(1));
    trueAnswer(depths(0.3, 0.7, 1), 'd', rand);
    expect(rand.count()).toBe(0);
  });
});

describe('trueAnswer: containers', () => {
  const v = (container: string, arm: 'p' | 'h', attentionMs: number): ContainerView => ({ container, arm, attentionMs });

  it('answers n when a view had the container in that arm', () => {
    const s = views(v('for-you', 'p', 0), v('more', 'h', 5000));
    expect(answer(s, 'n\tfor-you\tp')).toBe(1);
    expect(answer(s, 'n\tfor-you\th')).toBe(0);
    expect(answer(s, 'n\tmore\th')).toBe(1);
    expect(answer(s, 'n\tmore\tp')).toBe(0);
    expect(answer(s, 'n\tother\tp')).toBe(0);
    expect(answer(EMPTY, 'n\tfor-you\tp')).toBe(0);
  });

  it('answers o with a coin of probability (attention per view, each clipped at 30 s)/30 s', () => {
    const q = 'o\tfor-you\tp';
    expectCoin(views(v('for-you', 'p', 7_500)), q, 0.25);
    expectCoin(views(v('for-you', 'p', 15_000), v('for-you', 'p', 30_000)), q, 0.75);
    expectCoin(views(v('for-you', 'p', 29_999)), q, 29_999 / 30_000);
    // Clipped view by view: 10 min then nothing is (30 s + 0)/2 per view.
    expectCoin(views(v('for-you', 'p', 600_000), v('for-you', 'p', 0)), q, 0.5);
    expectCoin(views(v('for-you', 'p', 40_000), v('for-you', 'p', 10_000)), q, 2 / 3);
    expectCoin(views(v('for-you', 'p', 600_000), v('for-you', 'p', 45_000)), q, 1);
    // Views of the other arm or container do not count.
    expectCoin(views(v('for-you', 'p', 3000), v('for-you', 'h', 30_000), v('more', 'p', 30_000)), q, 0.1);
    // A view with a bad amount counts as a view without attention.
    expectCoin(views(v('for-you', 'p', Number.NaN), v('for-you', 'p', 30_000)), q, 0.5);
    expectCoin(views(v('for-you', 'p', -30_000), v('for-you', 'p', 30_000)), q, 0.5);
  });

  it('answers o with 0 without a view in that arm', () => {
    const q = 'o\tfor-you\th';
    for (const s of [EMPTY, views(v('for-you', 'p', 60_000)), views(v('more', 'h', 60_000))]) {
      expect(trueAnswer(s, q, always)).toBe(0);
      expect(trueAnswer(s, q, never)).toBe(0);
    }
  });
});

describe('trueAnswer: bounded and robust', () => {
  const qs = [...questionsOf(COLLECTOR), 'v\tnot-in-the-catalogue'];

  it('agrees with the contract’s statement of each answer for every question of a population', () => {
    const bad: string[] = [];
    for (const [i, s] of population(150, 12).entries()) {
      for (const q of qs) {
        const shares = answerShares(s, q);
        if (shares.length === 2 && shares[1]! > 0 && shares[1]! < 1) {
          // An amount: its coin comes up just below the share, not at it.
          const ok = trueAnswer(s, q, () => shares[1]! * (1 - 1e-12)) === 1 && trueAnswer(s, q, () => shares[1]!) === 0;
          if (!ok) bad.push(`device ${i} ${JSON.stringify(q)} share ${shares[1]}`);
        } else {
          const expected = shares.indexOf(1);
          for (const rand of [always, never]) {
            const got = trueAnswer(s, q, rand);
            if (got !== expected) bad.push(`device ${i} ${JSON.stringify(q)}: ${got}, expected ${expected}`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('gives one answer in range whatever the summary’s size', () => {
    const rand = mulberry32(8);
    // 10,000 items (250 entries of each catalogue item), 10,000 views' depths and container views.
    const huge: PeriodSummary = {
      items: Array.from({ length: 10_000 }, (_, i) => item(`item-${i % 40}`, { attentionMs: 1e6, clicks: 5, views: 9 })),
      depths: Array.from({ length: 10_000 }, () => rand()),
      containers: Array.from({ length: 10_000 }, (_, i) => ({ container: 'for-you', arm: i % 2 ? 'p' : 'h', attentionMs: 1e7 })),
    };
    const bad: string[] = [];
    for (const q of qs) {
      const a = trueAnswer(huge, q, rand);
      if (!(Number.isInteger(a) && a >= 0 && a < answers(q))) bad.push(`${q}: ${a}`);
    }
    expect(bad).toEqual([]);
    // Amounts past their caps are a coin that always comes up, not a bigger answer.
    expect(trueAnswer(huge, 't\titem-0', never)).toBe(1);
    expect(trueAnswer(huge, 'o\tfor-you\tp', never)).toBe(1);
  });

  it('does not throw on malformed summaries, and answers as if the bad parts were not there', () => {
    const odd = [Number.NaN, -5, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, '7', null, undefined, {}];
    const summaries = [
      {},
      { items: [] },
      { depths: [0.5] },
      { containers: [{ container: 'for-you', arm: 'p', attentionMs: 1000 }] },
      {
        items: odd.map((x) => ({ itemId: 'item-0', views: x, viewable: x, attended: x, skipped: x, clicks: x, attentionMs: x })),
        depths: odd,
      },
      { items: [{ itemId: 'item-0' }, { itemId: 7 }, { views: 1 }], depths: [], containers: [{ container: 'for-you' }, { arm: 'p' }] },
      { items: [], depths: [], containers: odd.map((x) => ({ container: 'for-you', arm: 'p', attentionMs: x })) },
    ] as unknown as PeriodSummary[];
    const bad: string[] = [];
    for (const s of summaries) {
      for (const q of qs) {
        for (const r of [always, never]) {
          try {
            const a = trueAnswer(s, q, r);
            if (!(a >= 0 && a < answers(q))) bad.push(`${JSON.stringify(s)} ${q}: ${a}`);
          } catch (error) {
            bad.push(`${JSON.stringify(s)} ${q}: ${error}`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
    // The bad numbers count as nothing: not seen, not attended, no attention.
    const oddNumbers = summaries[4]!;
    for (const kind of ITEM_KINDS) expect(trueAnswer(oddNumbers, `${kind}\titem-0`, always)).toBe(0);
    expect(answer(oddNumbers, 'd')).toBe(0);
    // Container views with bad attention are views without attention.
    expect(answer(summaries[6]!, 'n\tfor-you\tp')).toBe(1);
    expect(trueAnswer(summaries[6]!, 'o\tfor-you\tp', always)).toBe(0);
  });

  it('throws on what is not a question', () => {
    for (const q of ['', 'x', 't\titem-0\t2', 'v\ta\tb']) expect(() => trueAnswer(EMPTY, q, always)).toThrow(/not a report question/);
  });

  it('does not look at anything but the question’s own entries', () => {
    const base = population(1, 5)[0]!;
    const noisy = {
      ...base,
      path: '/account',
      items: [...base.items.map((it) => ({ ...it, title: 'secret' })), item('other', { attentionMs: 1e9 })],
    } as PeriodSummary;
    const seq = [0.1, 0.5, 0.9];
    for (const q of questionsOf(COLLECTOR)) {
      for (const u of seq) expect(trueAnswer(noisy, q, scripted([u])), q).toBe(trueAnswer(base, q, scripted([u])));
    }
  });
});
