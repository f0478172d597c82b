import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { useNodeBackend } from '../../src/model/node-backend';
import { createLearner, savingPower, topicPrior, type LearnerDeps, type LoggedView } from '../../src/runtime/learner';

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

function learner(saving: () => Promise<boolean>, views: LoggedView[] = log) {
  const lines: string[] = [];
  const saved: number[] = [];
  const deps: LearnerDeps = {
    history: async () => views,
    loadWeights: async () => undefined,
    saveWeights: async (_bytes, meta) => void saved.push(meta.steps),
    loadBackend: async () => ({ name: 'wasm' }),
    saveBackend: async () => {},
    isLeader: () => true,
    report: (e) => lines.push(`error ${String(e)}`),
    log: (...a) => lines.push(a.map(String).join(' ')),
    savingPower: saving,
  };
  return { l: createLearner(deps), lines, saved };
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

  it('keeps the visitor\'s model from training, and stops a round when it turns on', async () => {
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
