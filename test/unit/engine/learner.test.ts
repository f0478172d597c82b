import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { useNodeBackend } from '../../../src/offline/node-backend';
import { loadModel } from '../../../src/model/index';
import { createLearner, savingPower, sequenceOf, topicPrior, type LearnerDeps, type LoggedView } from '../../../src/engine/learner';
import { siteModel } from '../../../src/model/manifest';
import { decodeStatistics } from '../../../src/federated/statistics';
import type { RoundInfo } from '../../../src/federated/round';

beforeAll(async () => {
  await useNodeBackend('wasm');
});

afterEach(() => {
  vi.unstubAllGlobals();
});

const topics = ['sport', 'politics', 'science'];
const log: LoggedView[] = Array.from({ length: 24 }, (_, i) => ({
  itemId: `story-${i}`,
  topics: [topics[i % 3]!],
  attentionMs: i % 3 === 0 ? 6000 : 300,
  skipped: i % 3 !== 0,
  viewId: `v${i >> 2}`,
  lastAt: 1000 + i,
}));

function learner(saving: () => Promise<boolean>, views: LoggedView[] = log, more: Partial<LearnerDeps> = {}) {
  const lines: string[] = [];
  const saved: number[] = [];
  const metas: Parameters<LearnerDeps['saveWeights']>[1][] = [];
  const deps: LearnerDeps = {
    history: async () => views,
    loadWeights: async () => undefined,
    saveWeights: async (_bytes, meta) => void (saved.push(meta.steps), metas.push(meta)),
    loadBackend: async () => ({ name: 'wasm' }),
    saveBackend: async () => {},
    isLeader: () => true,
    report: (e, where) => lines.push(`error ${where}: ${String(e)}`),
    log: (...a) => lines.push(a.map(String).join(' ')),
    savingPower: saving,
    ...more,
  };
  return { l: createLearner(deps), lines, saved, metas };
}

/** A page, visible or hidden. */
function pageShowing(visibilityState: string) {
  const doc = { visibilityState };
  vi.stubGlobal('document', doc);
  return doc;
}

describe('saving power', () => {
  it('is on for a device on battery at 20 % or less, and off when charging, fuller or unknown', async () => {
    const battery = (charging: boolean, level: number) => vi.stubGlobal('navigator', { getBattery: async () => ({ charging, level }) });
    battery(false, 0.15);
    expect(await savingPower()).toBe(true);
    battery(false, 0.2);
    expect(await savingPower()).toBe(true);
    battery(true, 0.1);
    expect(await savingPower()).toBe(false);
    battery(false, 0.5);
    expect(await savingPower()).toBe(false);
    vi.stubGlobal('navigator', { getBattery: () => Promise.reject(new Error('not allowed')) });
    expect(await savingPower()).toBe(false);
    vi.stubGlobal('navigator', {});
    expect(await savingPower()).toBe(false);
  });

  it("keeps the visitor's model from training, and stops a round when it turns on", async () => {
    const off = learner(async () => true);
    expect(await off.l.train()).toBeUndefined();
    expect(off.lines).toContain('model training skipped: the device is saving power');
    expect(off.l.state().steps).toBe(0);
    off.l.dispose();

    // Power saving turns on after the second check: the round's first step runs, then it stops.
    let checks = 0;
    const on = learner(async () => ++checks > 2);
    const result = await on.l.train();
    expect(result?.targets).toBeGreaterThan(0);
    expect(on.l.state().steps).toBe(1);
    expect(on.saved).toEqual([1]);
    on.l.dispose();
  });
});

describe('training', () => {
  it('counts no step and saves nothing while the log holds nothing read or clicked', async () => {
    const passedOver = log.map((v) => ({ ...v, attentionMs: 300, skipped: true }));
    const { l, lines, saved } = learner(async () => false, passedOver);
    expect(await l.train()).toBeUndefined();
    expect(lines).toContain('model training skipped: nothing read or clicked yet');
    expect(l.state()).toMatchObject({ steps: 0 });
    expect(l.state().loss).toBeUndefined();
    expect(saved).toEqual([]);
    l.dispose();
  });
});

describe('training bounds', () => {
  it('never trains on a hidden page, and a round stops when the page is hidden', async () => {
    pageShowing('hidden');
    const hidden = learner(async () => false);
    expect(await hidden.l.train()).toBeUndefined();
    expect(hidden.lines).toContain('model training skipped: page hidden');
    expect(hidden.l.state().steps).toBe(0);
    expect(hidden.saved).toEqual([]);
    hidden.l.dispose();

    // Hidden after the round's first step (the learner asks who leads before each step): the
    // round stops there, and saves that step.
    const doc = pageShowing('visible');
    let asked = 0;
    const leaves = learner(async () => false, log, { isLeader: () => (++asked === 3 && (doc.visibilityState = 'hidden'), true) });
    expect((await leaves.l.train())?.targets).toBeGreaterThan(0);
    expect(leaves.l.state().steps).toBe(1);
    expect(leaves.saved).toEqual([1]);
    leaves.l.dispose();
  });

  it('stops at the step budget of the page session', async () => {
    const { l, lines, saved } = learner(async () => false, log, { stepBudget: 5 });
    await l.train();
    expect(l.state().steps).toBe(4);
    await l.train();
    expect(l.state().steps).toBe(5);
    expect(await l.train()).toBeUndefined();
    expect(lines).toContain('model training skipped: step budget of this session spent');
    expect(l.state().steps).toBe(5);
    expect(saved).toEqual([4, 5]);
    l.dispose();
  });
});

describe("the site's model (modelUrl)", () => {
  // Candidates of a topic the log never shows: the topic priors are flat, the scores the model's alone.
  const items = Array.from({ length: 8 }, (_, i) => ({ id: `new-${i}`, topics: ['weather'] }));
  const order = (scores: Record<string, number>) => Object.keys(scores).sort((a, b) => scores[b]! - scores[a]!);
  const fakeSite = (id: string, weights: () => Promise<Uint8Array>) => ({ manifest: vi.fn(async () => id), weights: vi.fn(weights) });

  it("starts from the site's weights, half-trusted before any step on this visitor, and remembers which model they came from", async () => {
    const site = (await loadModel({ seed: 77 })).save('float32');
    const siteOwn = await loadModel({ weights: site });
    const own = await siteOwn.score(
      sequenceOf(log),
      items.map((c) => ({ itemId: c.id, topics: c.topics })),
    );
    siteOwn.dispose();
    const expected = Object.fromEntries(items.map((c, i) => [c.id, own[i]!]));

    const { l, metas, lines } = learner(async () => false, log, { site: fakeSite('m1', async () => site) });
    const scores = await l.score(items);
    expect(lines.filter((x) => x.startsWith('error'))).toEqual([]);
    // Standardised model scores at half weight: a spread of 0.5 and the site model's order.
    const xs = Object.values(scores);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length)).toBeCloseTo(0.5, 3);
    expect(order(scores)).toEqual(order(expected));
    expect(l.state().site).toBe(true);
    await l.train();
    expect(metas.at(-1)).toMatchObject({ steps: 4, site: 'm1' });
    l.dispose();

    // A fresh model has earned no weight yet: flat priors, flat scores.
    const fresh = learner(async () => false);
    expect(new Set(Object.values(await fresh.l.score(items)))).toEqual(new Set([0]));
    expect(fresh.l.state().site).toBe(false);
    fresh.l.dispose();
  });

  it("keeps the visitor's own weights while they began as the site's current model; a new site model replaces them", async () => {
    const mine = (await loadModel({ seed: 5 })).save('float32');
    const next = (await loadModel({ seed: 78 })).save('float32');
    const same = fakeSite('m1', async () => next);
    const kept = learner(async () => false, log, { loadWeights: async () => ({ data: mine, steps: 8, site: 'm1' }), site: same });
    await kept.l.score(items);
    expect(same.manifest).toHaveBeenCalledTimes(1);
    expect(same.weights).not.toHaveBeenCalled();
    await kept.l.train();
    expect(kept.metas.at(-1)).toMatchObject({ steps: 12, site: 'm1' });
    kept.l.dispose();

    // The site put out a new model: the visitor starts again from it, its steps from 0.
    for (const before of ['m1', undefined]) {
      const newer = fakeSite('m2', async () => next);
      const moved = learner(async () => false, log, { loadWeights: async () => ({ data: mine, steps: 8, site: before }), site: newer });
      await moved.l.score(items);
      expect(newer.weights).toHaveBeenCalledTimes(1);
      expect(moved.lines).toContain('the site has a new model: starting from it');
      await moved.l.train();
      expect(moved.metas.at(-1)).toMatchObject({ steps: 4, site: 'm2' });
      moved.l.dispose();
    }
  });

  it('a site model that cannot be fetched, or that no backend can load, is reported, and changes nothing else', async () => {
    const mine = (await loadModel({ seed: 5 })).save('float32');
    const offline = fakeSite('', async () => new Uint8Array(0));
    offline.manifest.mockRejectedValue(new Error('HTTP 404'));
    // With weights of the visitor's own: those go on, lineage and steps as they were.
    const keeps = learner(async () => false, log, { loadWeights: async () => ({ data: mine, steps: 8, site: 'm1' }), site: offline });
    await keeps.l.score(items);
    expect(keeps.lines).toContain('error loading the site model: Error: HTTP 404');
    await keeps.l.train();
    expect(keeps.metas.at(-1)).toMatchObject({ steps: 12, site: 'm1' });
    keeps.l.dispose();

    // Without: a fresh model.
    const missing = learner(async () => false, log, { site: offline });
    const a = await missing.l.score(items);
    expect(missing.lines).toContain('error loading the site model: Error: HTTP 404');
    expect(Object.values(a)).toEqual(items.map(() => 0));
    expect((await missing.l.train())?.targets).toBeGreaterThan(0);
    expect(missing.metas.at(-1)).toMatchObject({ steps: 4, site: undefined });
    missing.l.dispose();

    const damaged = learner(async () => false, log, { site: fakeSite('m3', async () => new Uint8Array([65, 84, 78, 70, 1, 2, 3])) });
    const b = await damaged.l.score(items);
    expect(damaged.lines.filter((x) => x.startsWith('error'))).toEqual([
      'error starting from the site model: AttnflowConfigError: attnflow: model weights: expected an attnflow weight file (ATNF), received "7 other bytes"',
    ]);
    expect(Object.keys(b)).toEqual(items.map((c) => c.id));
    expect((await damaged.l.train())?.targets).toBeGreaterThan(0);
    expect(damaged.metas.at(-1)).toMatchObject({ steps: 4, site: undefined });
    damaged.l.dispose();
  });
});

describe('the site model behind modelUrl, on the page', () => {
  it('names a model by its manifest: the same text the same id, any change a new one; weights beside the manifest', async () => {
    vi.stubGlobal('location', { href: 'https://news.example/section/page' });
    const files: Record<string, string | Uint8Array> = {
      'https://news.example/model/model.json': JSON.stringify({ format: 'attnflow-model', version: 1, weights: 'weights.bin', bytes: 3 }),
      'https://news.example/model/weights.bin': new Uint8Array([1, 2, 3]),
      'https://news.example/model/v2.json': JSON.stringify({
        format: 'attnflow-model',
        version: 1,
        weights: 'weights.bin',
        bytes: 3,
        training: { visitors: 9 },
      }),
      'https://news.example/model/other.json': JSON.stringify({ format: 'something-else' }),
    };
    const fetched: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      fetched.push(url);
      const body = files[new URL(url, 'https://news.example/section/page').href];
      return body === undefined ? new Response('not found', { status: 404 }) : new Response(body);
    });
    const v1 = siteModel('/model/model.json');
    const id = await v1.manifest();
    expect(await siteModel('/model/model.json').manifest()).toBe(id);
    expect(await siteModel('/model/v2.json').manifest()).not.toBe(id);
    expect(Array.from(await v1.weights())).toEqual([1, 2, 3]);
    expect(fetched.at(-1)).toBe('https://news.example/model/weights.bin');
    await expect(siteModel('/model/gone.json').manifest()).rejects.toThrow('attnflow: model manifest /model/gone.json: HTTP 404');
    await expect(siteModel('/model/other.json').manifest()).rejects.toThrow('is not an attnflow model manifest');
    await expect(siteModel('/model/model.json').weights()).rejects.toThrow('the model manifest was not read');
  });
});

describe('topic priors', () => {
  it('count a read as the SDK counts attention: 1 s in a view, as a grid of cards gives a story read for seconds', () => {
    // Three science stories read at 1.2–1.6 s each (a 4 s read among six cards), three sport stories
    // passed over; culture never seen.
    const views: LoggedView[] = [
      ...[1200, 1400, 1600].map((attentionMs, i) => ({ itemId: `sci-${i}`, topics: ['science'], attentionMs, viewId: 'v1' })),
      ...[300, 400, 500].map((attentionMs, i) => ({ itemId: `sport-${i}`, topics: ['sport'], attentionMs, skipped: true, viewId: 'v1' })),
    ];
    const [science, culture, sport] = topicPrior(views, [
      { id: 'sci-9', topics: ['science'] },
      { id: 'culture-9', topics: ['culture'] },
      { id: 'sport-9', topics: ['sport'] },
    ]);
    expect(science).toBeGreaterThan(culture!);
    expect(culture).toBeGreaterThan(sport!);
    // Under a second, a look is not a read: nothing gained.
    expect(topicPrior([{ itemId: 'a', topics: ['science'], attentionMs: 900 }], [{ id: 'b', topics: ['science'] }])[0]).toBe(0);
  });
});

describe('federated rounds', () => {
  it('where the model runs on the page: a training round is not joined, a statistics round is', async () => {
    pageShowing('visible');
    const weights = (await loadModel({ seed: 5, dim: 8, idBuckets: 64, topicBuckets: 8 })).save('float32');
    const manifest = JSON.stringify({ format: 'attnflow-model', version: 1, weights: 'w.bin', round: 2 });
    const round = (kind?: 'statistics'): RoundInfo => ({
      format: 'attnflow-round',
      version: 1,
      round: 2,
      ...(kind ? { kind, scaled: true } : {}),
      clip: 1,
      noise: 'central',
      sampleRate: 1,
      steps: 2,
      learningRate: 0.5,
      items: log.map((v) => ({ itemId: v.itemId, topics: v.topics })),
      deadline: new Date(Date.now() + 60_000).toISOString(),
    });
    for (const kind of [undefined, 'statistics' as const]) {
      const calls: string[] = [];
      const sent: Uint8Array[] = [];
      const { l, lines } = learner(async () => false, log, {
        worker: false,
        site: { manifest: async () => (calls.push('manifest'), manifest), weights: async () => (calls.push('weights'), weights) },
        federated: {
          allowed: () => true,
          round: async () => (calls.push('round'), round(kind)),
          done: async () => (calls.push('done'), undefined),
          mark: async () => void calls.push('mark'),
          send: async (_r, body) => void sent.push(body),
        },
      });
      await l.train();
      if (!kind) {
        expect(lines).toContain('federated round skipped: the model runs on the page');
        expect(sent).toEqual([]);
        expect(l.state().federated).toBeUndefined();
      } else {
        // The counts of the log's eight reads (every third story, six seconds each), scaled.
        expect(sent).toHaveLength(1);
        const s = decodeStatistics(sent[0]!, log.length, true);
        expect([...s.items.keys()]).toEqual([0, 3, 6, 9, 12, 15, 18, 21]);
        expect(s.pairs.size).toBeGreaterThan(0);
        expect(l.state().federated).toMatchObject({ round: 2, bytes: sent[0]!.byteLength });
      }
      l.dispose();
    }
  });
});
