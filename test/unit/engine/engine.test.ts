import { beforeAll, describe, expect, it } from 'vitest';
import { useNodeBackend } from '../../../src/offline/node-backend';
import { Engine, probeHistory, type ProbeResult } from '../../../src/engine/engine';
import type { AttentionEvent } from '../../../src/model/types';

beforeAll(async () => {
  // Registers the WASM backend from node_modules; the engine falls back from it to CPU.
  await useNodeBackend('wasm');
});

const log: AttentionEvent[] = Array.from({ length: 12 }, (_, i) => ({
  itemId: `story-${i}`,
  topics: [`t${i % 3}`],
  attentionMs: (i % 4) * 1000,
  skipped: i % 5 === 4,
  viewId: `v${i >> 2}`,
}));
const candidates = Array.from({ length: 20 }, (_, i) => ({ itemId: `c${i}`, topics: [`t${i % 3}`] }));
const small = { dim: 16, idBuckets: 512, topicBuckets: 32, negatives: 8, maxLen: 10, seed: 3 };

describe('model engine', () => {
  // First: the fallback test below drops the WASM backend for the rest of this file.
  it('times a first visit, with no history yet, as a visitor who has read on', async () => {
    // The history the model reads: 10 events here. A short one is made up to that from the candidates.
    expect(probeHistory(log, candidates, 10)).toBe(log);
    const made = probeHistory(log.slice(0, 2), candidates, 10);
    expect(made).toHaveLength(10);
    expect(made.slice(-2)).toEqual(log.slice(0, 2));
    expect(made[0]).toMatchObject({ itemId: 'c0', topics: ['t0'] });
    expect(probeHistory([], ['a', 'b'], 4).map((e) => e.itemId)).toEqual(['a', 'b', 'a', 'b']);

    // With no history, the probe times whole calls, not the kept visitor vector of the one before:
    // about as long as with a full history, never a fraction of it.
    const time = async (history: AttentionEvent[]) => {
      const engine = new Engine();
      const { probe } = await engine.init({ backends: ['wasm', 'cpu'], model: { seed: 3 }, probe: { history, candidates, rounds: 3 } });
      engine.dispose();
      return probe.find((p) => p.backend === 'cpu')!.scoreMs!;
    };
    const full = Array.from({ length: 50 }, (_, i) => ({ ...log[i % log.length]!, itemId: `h${i}` }));
    const [empty, read] = [await time([]), await time(full)];
    expect(empty).toBeGreaterThan(read / 2);
  });

  it('stops timing a backend far behind one measured before it, and does not time the only one that works', async () => {
    const engine = new Engine();
    const { probe, backend } = await engine.init({
      backends: ['wasm', 'cpu'],
      model: { seed: 3 },
      probe: { history: log, candidates, rounds: 4 },
    });
    engine.dispose();
    expect(backend.name).toBe('wasm');
    const [wasm, cpu] = probe as [ProbeResult, ProbeResult];
    // WASM: every round, each repeated for the clock. CPU (many times slower here): one round.
    expect(wasm.calls).toBeGreaterThanOrEqual(4);
    expect(cpu.calls).toBe(1);
    expect(cpu.scoreMs).toBeGreaterThan(3 * wasm.scoreMs!);

    // No WebGL in Node: CPU is all that is left, and is loaded without timing.
    const alone = new Engine();
    const state = await alone.init({ backends: ['webgl', 'cpu'], model: { seed: 3 }, probe: { history: log, candidates } });
    alone.dispose();
    expect(state.backend.name).toBe('cpu');
    expect(state.probe).toEqual([
      { backend: 'webgl', error: 'WebGL2 is unavailable here' },
      { backend: 'cpu', error: 'not measured: no other backend works' },
    ]);
  });

  it('falls back from the saved weights even after the worker handed its saved bytes over to the page', async () => {
    const engine = new Engine();
    await engine.init({ backends: ['wasm', 'cpu'], model: small });
    expect(engine.info()?.backend.name).toBe('wasm');
    for (let i = 0; i < 3; i++) await engine.train([log]);
    const bytes = await engine.save('float32');
    const trained = Array.from(await engine.score(log, candidates));
    // The worker posts the bytes with their buffer transferred: gone from the worker.
    structuredClone(bytes, { transfer: [bytes.buffer as ArrayBuffer] });
    expect(bytes.byteLength).toBe(0);
    // The backend breaks so that it cannot even read its weights: the engine starts again on the
    // next backend from the last saved weights.
    const model = (engine as unknown as { model: { score(): never; save(): never } }).model;
    model.score = model.save = () => {
      throw new Error('backend lost');
    };
    const after = Array.from(await engine.score(log, candidates));
    expect(engine.info()?.backend.name).toBe('cpu');
    expect(engine.info()?.fellBackFrom).toEqual(['wasm']);
    after.forEach((s, i) => expect(s).toBeCloseTo(trained[i]!, 4));
    engine.dispose();
  });
});

describe('the window of the log, read where the model runs', () => {
  it('scores and trains from the log in IndexedDB as from the same events handed over, and never creates a log', async () => {
    const { IDBFactory } = await import('fake-indexeddb');
    const { createStore } = await import('../../../src/store/store');
    const { sequenceOf, topicPrior, standardize } = await import('../../../src/engine/window');
    const g = globalThis as { indexedDB?: unknown; IDBKeyRange?: unknown };
    const saved = g.indexedDB;
    g.indexedDB = new IDBFactory();
    try {
      let t = Date.UTC(2026, 0, 1);
      const clock = { now: () => t, epoch: () => t };
      const store = createStore({
        retentionDays: 90,
        maxItemRecords: 50_000,
        report: (e) => {
          throw e;
        },
        log: () => {},
        clock,
        name: 'window-test',
      });
      store.allow(true);
      for (let v = 0; v < 40; v++) {
        t += 1000;
        const items = Object.fromEntries(
          Array.from({ length: 16 }, (_, k) => [
            `v${v % 7}-s${k}`,
            {
              attentionMs: k % 4 === 0 ? 3000 + v : 100,
              visibleMs: 0,
              viewableMs: 0,
              hoverMs: 0,
              maxVisibleRatio: 1,
              clicks: k === 0 ? 1 : 0,
              viewable: true,
              skipped: k % 4 !== 0,
              topics: [`t${k % 4}`],
              rageClicks: 0,
              deadClicks: 0,
            },
          ]),
        );
        store.recordView({
          page: { viewId: `view-${v}`, path: '/', startedAt: t, engagedMs: 0, visibleMs: 0, scrollDepth: 0, rageClicks: 0, deadClicks: 0 },
          items,
        });
      }
      await store.settled();
      const handed = sequenceOf((await store.export()).records);
      expect(handed).toHaveLength(400);

      const engine = new Engine();
      await engine.init({ backends: ['cpu'], model: { ...small } });
      const window = { log: 'window-test', recent: 400 };
      expect(Array.from(await engine.score(window, candidates))).toEqual(Array.from(await engine.score(handed, candidates)));
      // With `learned`, the model's scores blended with the topic priors of the same events.
      const model = standardize(await engine.score(handed, candidates));
      const prior = standardize(
        topicPrior(
          handed,
          candidates.map((c) => ({ id: c.itemId, topics: c.topics })),
        ),
      );
      const blended = await engine.score(window, candidates, 0.25);
      blended.forEach((x, i) => expect(x).toBeCloseTo(0.25 * model[i]! + 0.875 * prior[i]!, 4));
      const step = await engine.train([window], { negativePool: 'history' });
      expect(step.targets).toBeGreaterThan(0);
      expect(Number.isFinite(step.loss)).toBe(true);
      // A log that does not exist is not made by reading it: the model fails to read, nothing more.
      await expect(engine.score({ log: 'no-such-log', recent: 400 }, candidates)).rejects.toThrow();
      expect((await (g.indexedDB as IDBFactory).databases()).map((d) => d.name)).toEqual(['window-test']);
      engine.dispose();
      store.stop();
    } finally {
      g.indexedDB = saved;
    }
  });
});
