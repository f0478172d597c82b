/**
 * The collector's federated rounds over HTTP: the round's model published where `modelUrl` points
 * and served at /model/; a device's update accepted once; stale, replayed, malformed, over-norm and
 * oversized updates refused and counted; a round closed at `minClients` with the noisy average
 * stepped into the next round's model; the accountant's ε per round and in total; the state kept
 * across a restart; a rollback; no round once the privacy budget is spent.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Collector, createCollector } from '../../../src/collect/server';
import { epsilonOf, noiseMultiplierFor } from '../../../src/federated/accountant';
import { specsOf } from '../../../src/federated/local';
import { countStatistics, encodeStatistics } from '../../../src/federated/statistics';
import { clipDelta, encodeUpdate } from '../../../src/federated/update';
import { resolveConfig } from '../../../src/model/config';
import { ItemCoder } from '../../../src/model/encode';
import { localUpdate } from '../../../src/model/index';
import { decodeWeights } from '../../../src/model/serialize';
import { useNodeBackend } from '../../../src/offline/node-backend';
import { openPostgres } from '../../../src/collect/db';
import { CATALOGUE, pgliteDataDir, tempDir } from './helpers';
import { type PostgresCluster, startPostgres } from './postgres';

beforeAll(async () => {
  await useNodeBackend('wasm');
});

const id = () => `u${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`.slice(0, 24);

async function json(url: string): Promise<any> {
  const r = await fetch(url);
  return { status: r.status, body: await r.json(), headers: r.headers };
}

async function send(url: string, round: number, body: Uint8Array, uid = id()): Promise<{ status: number; body: any }> {
  const r = await fetch(`${url}/update?round=${round}&id=${uid}`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
  return { status: r.status, body: await r.json() };
}

/** A device's update of the open round: local training on `items` read in order, clipped, encoded. */
async function deviceUpdate(url: string, items: string[], clip = 1): Promise<{ round: number; bytes: Uint8Array }> {
  const info = (await json(`${url}/round`)).body;
  const manifest = (await json(`${url}/model/model.json`)).body;
  const weights = new Uint8Array(await (await fetch(`${url}/model/${manifest.weights}`)).arrayBuffer());
  const events = items.map((itemId, i) => ({ itemId, topics: ['news'], attentionMs: 4000, viewId: `v${i}` }));
  const { delta, config } = localUpdate(weights, events, { steps: info.steps, learningRate: info.learningRate, negativePool: info.items });
  clipDelta(delta, clip);
  return { round: info.round, bytes: encodeUpdate(info.round, delta, specsOf(config)) };
}

describe.each(['pglite', 'postgres'] as const)('federated rounds on %s', (backend) => {
  let collector: Collector;
  let url: string;
  let store: { data?: string; database?: string };
  let cluster: PostgresCluster | undefined;

  /** A fresh, empty database of this backend. */
  async function freshStore(): Promise<{ data?: string; database?: string }> {
    if (backend === 'pglite') return { data: await pgliteDataDir() };
    const name = `db${Math.random().toString(36).slice(2, 10)}`;
    const admin = await openPostgres(cluster!.url, 1);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.close();
    return { database: cluster!.url.replace(/\/postgres$/, `/${name}`) };
  }
  const dir = tempDir('attnflow-rounds-');
  const federated = {
    dir,
    minClients: 2,
    clip: 1,
    noiseMultiplier: 1.5,
    epsilonBudget: 50,
    delta: 1e-5,
    localSteps: 2,
    localRate: 0.5,
    statistics: false,
  };

  beforeAll(async () => {
    if (backend === 'postgres') cluster = await startPostgres();
    store = await freshStore();
    collector = createCollector({ catalogue: CATALOGUE, ...store, port: 0, federated, log: () => {} });
    url = await collector.listen();
  }, 120_000);
  afterAll(async () => {
    await collector?.close();
    await cluster?.stop();
  });

  it('publishes round 1 where modelUrl points, readable from any page', async () => {
    const { status, body, headers } = await json(`${url}/round`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ format: 'attnflow-round', round: 1, clip: 1, noise: 'central', steps: 2 });
    expect(body.items.map((i: { itemId: string }) => i.itemId)).toEqual(CATALOGUE.items.map((i) => i.id));
    expect(headers.get('access-control-allow-origin')).toBe('*');
    const manifest = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8'));
    expect(manifest).toMatchObject({ format: 'attnflow-model', round: 1, weights: 'round-1.bin' });
    const served = await json(`${url}/model/model.json`);
    expect(served.body).toEqual(manifest);
    expect(served.headers.get('access-control-allow-origin')).toBe('*');
    const bytes = new Uint8Array(await (await fetch(`${url}/model/round-1.bin`)).arrayBuffer());
    expect(decodeWeights(bytes).config.idBuckets).toBe(1024);
  });

  it('refuses stale, replayed, malformed, over-norm and oversized updates, and counts each', async () => {
    const { bytes } = await deviceUpdate(url, ['home-hero', 'match-report', 'recipe-soup', 'home-hero']);
    expect((await send(url, 7, bytes)).status).toBe(409);
    const garbage = Uint8Array.from({ length: 200 }, (_, i) => i);
    const bad = await send(url, 1, garbage);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/ATNU/);
    const big = await deviceUpdate(url, ['home-hero', 'match-report', 'recipe-soup'], 50);
    const over = await send(url, 1, big.bytes);
    expect([over.status, over.body.error]).toEqual([400, expect.stringMatching(/over the clip norm/)]);
    const huge = await send(url, 1, new Uint8Array(collector.rounds!.maxBytes() + 10));
    expect(huge.status).toBe(413);
    const uid = id();
    expect((await send(url, 1, bytes, uid)).status).toBe(202);
    expect((await send(url, 1, bytes, uid)).status).toBe(409);
    const summary = (await json(`${url}/api/rounds`)).body;
    expect(summary.rounds[0]).toMatchObject({
      round: 1,
      accepted: 1,
      closedAt: null,
      rejected: { stale: 1, malformed: 1, overNorm: 1, oversized: 1 },
    });
  });

  it('closes the round at minClients: the noisy average stepped into round 2, with its ε', async () => {
    const before = decodeWeights(new Uint8Array(await (await fetch(`${url}/model/round-1.bin`)).arrayBuffer())).weights;
    const { bytes } = await deviceUpdate(url, ['recipe-soup', 'home-hero', 'recipe-soup']);
    const r = await send(url, 1, bytes);
    expect(r).toEqual({ status: 202, body: { ok: true, closed: true } });
    expect((await json(`${url}/round`)).body.round).toBe(2);
    const manifest = (await json(`${url}/model/model.json`)).body;
    expect(manifest.round).toBe(2);
    const after = decodeWeights(new Uint8Array(await (await fetch(`${url}/model/${manifest.weights}`)).arrayBuffer())).weights;
    // Noise on every value: even rows nobody touched moved.
    let moved = 0;
    const a = after.get('item/id')!;
    const b = before.get('item/id')!;
    for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > 1e-4) moved++;
    expect(moved).toBeGreaterThan(a.length * 0.9);
    const summary = (await json(`${url}/api/rounds`)).body;
    expect(summary.round).toBe(2);
    expect(summary.rounds[1]).toMatchObject({ round: 1, clients: 2 });
    expect(summary.rounds[1].epsilon).toBeCloseTo(epsilonOf(1, 1.5, 1, 1e-5), 6);
    expect(summary.epsilon).toBeCloseTo(summary.rounds[1].epsilon, 9);
    // The old round's update is stale now.
    expect((await send(url, 1, bytes)).status).toBe(409);
  });

  it('keeps its rounds across a restart, and rolls back to an earlier round', async () => {
    await collector.close();
    collector = createCollector({ catalogue: CATALOGUE, ...store, port: 0, federated, log: () => {} });
    url = await collector.listen();
    expect((await json(`${url}/round`)).body.round).toBe(2);
    expect((await json(`${url}/api/rounds`)).body.rounds[1].clients).toBe(2);
    const r = await collector.rounds!.rollback(1);
    expect(r).toBe(3);
    const m = (await json(`${url}/model/model.json`)).body;
    expect(m.round).toBe(3);
    const w3 = readFileSync(path.join(dir, 'round-3.bin'));
    const w1 = readFileSync(path.join(dir, 'round-1.bin'));
    expect(Buffer.compare(w3, w1)).toBe(0);
    expect(existsSync(path.join(dir, 'model-2.json'))).toBe(true);
    expect((await json(`${url}/api/rounds`)).body.rounds[0]).toMatchObject({ round: 3, fromRound: 1 });
  });

  it('opens no round that would pass the privacy budget', async () => {
    const d2 = tempDir('attnflow-rounds-');
    const store2 = await freshStore();
    const settings2 = { ...federated, dir: d2, minClients: 1, epsilonBudget: epsilonOf(1, 1.5, 1, 1e-5) * 1.2 };
    const c = createCollector({ catalogue: CATALOGUE, ...store2, port: 0, federated: settings2, log: () => {} });
    const u = await c.listen();
    try {
      const { bytes } = await deviceUpdate(u, ['home-hero', 'match-report']);
      expect((await send(u, 1, bytes)).status).toBe(202);
      const round = await fetch(`${u}/round`);
      expect(round.status).toBe(410);
      const summary = (await json(`${u}/api/rounds`)).body;
      expect(summary.status).toBe('budget spent');
      expect(summary.epsilon).toBeLessThanOrEqual(summary.epsilonBudget);
      expect((await send(u, 1, bytes)).status).toBe(410);
      // The model round 1 made is published as the last one, and stays so across a restart.
      expect((await json(`${u}/model/model.json`)).body.round).toBe(2);
      await c.close();
      const again = createCollector({ catalogue: CATALOGUE, ...store2, port: 0, federated: settings2, log: () => {} });
      const u2 = await again.listen();
      expect((await fetch(`${u2}/round`)).status).toBe(410);
      expect((await json(`${u2}/api/rounds`)).body.status).toBe('budget spent');
      await again.close();
    } finally {
      await c.close();
    }
  });
});

describe('a new model’s statistics round', () => {
  /** A device's statistics of the open round: `reads` as indexes into the round's item list. */
  async function deviceStatistics(u: string, items: string[]): Promise<{ round: number; bytes: Uint8Array }> {
    const info = (await json(`${u}/round`)).body;
    const at = new Map<string, number>(info.items.map((i: { itemId: string }, k: number) => [i.itemId, k]));
    const s = countStatistics(
      info.round,
      items.map((x) => at.get(x)!),
      info.items.length,
      info.scaled,
    );
    return { round: info.round, bytes: encodeStatistics(s, info.items.length) };
  }
  const biasOf = (weights: Map<string, Float32Array>, itemId: string, config: Parameters<typeof resolveConfig>[0]) =>
    [...new ItemCoder(resolveConfig(config)).code(itemId).ids].reduce((s, r) => s + weights.get('item/bias')![r]!, 0);

  it('without noise: devices send read counts and pairs; their sums start round 2, and rounds go on without a budget', async () => {
    const d = tempDir('attnflow-stats-');
    const c = createCollector({
      catalogue: CATALOGUE,
      data: await pgliteDataDir(),
      port: 0,
      federated: { dir: d, minClients: 3, noiseMultiplier: 0, localSteps: 1 },
      log: () => {},
    });
    const u = await c.listen();
    try {
      const info = (await json(`${u}/round`)).body;
      expect(info).toMatchObject({ round: 1, kind: 'statistics', scaled: false });
      // A model update is not what this round takes.
      const update = await deviceUpdate(u, ['home-hero', 'match-report', 'recipe-soup']);
      const refused = await send(u, 1, update.bytes);
      expect([refused.status, refused.body.error]).toEqual([400, expect.stringMatching(/statistics/)]);
      for (const reads of [
        ['recipe-soup', 'home-hero', 'recipe-soup', 'home-hero'],
        ['recipe-soup', 'match-report'],
        ['home-hero', 'recipe-soup'],
      ]) {
        const { bytes } = await deviceStatistics(u, reads);
        expect((await send(u, 1, bytes)).status).toBe(202);
      }
      const next = (await json(`${u}/round`)).body;
      expect(next.round).toBe(2);
      expect(next.kind).toBeUndefined();
      const manifest = (await json(`${u}/model/model.json`)).body;
      const { config, weights } = decodeWeights(new Uint8Array(await (await fetch(`${u}/model/${manifest.weights}`)).arrayBuffer()));
      // Biases in the order of the reads: 4, 3 and 1.
      const bias = (id: string) => biasOf(weights, id, config);
      expect(bias('recipe-soup')).toBeGreaterThan(bias('home-hero'));
      expect(bias('home-hero')).toBeGreaterThan(bias('match-report'));
      const summary = (await json(`${u}/api/rounds`)).body;
      expect(summary).toMatchObject({ status: 'open', round: 2, noiseMultiplier: 0, epsilon: 0 });
      expect(summary.rounds[1]).toMatchObject({ round: 1, kind: 'statistics', clients: 3, epsilon: null });
      // Without noise no ε is counted, and no budget stops the rounds.
      for (let i = 0; i < 3; i++) {
        const { bytes } = await deviceUpdate(u, ['home-hero', 'match-report', 'recipe-soup']);
        expect((await send(u, 2, bytes)).status).toBe(202);
      }
      expect((await json(`${u}/round`)).body).toMatchObject({ round: 3 });
    } finally {
      await c.close();
    }
  });

  it('under noise: devices send their counts scaled to norm 1, the sums are noised, and the round’s ε is counted', async () => {
    const d = tempDir('attnflow-stats-');
    const c = createCollector({
      catalogue: CATALOGUE,
      data: await pgliteDataDir(),
      port: 0,
      federated: { dir: d, minClients: 2, noiseMultiplier: 1.5, delta: 1e-5, epsilonBudget: 50 },
      log: () => {},
    });
    const u = await c.listen();
    try {
      expect((await json(`${u}/round`)).body).toMatchObject({ round: 1, kind: 'statistics', scaled: true });
      const counts = encodeStatistics(countStatistics(1, [0, 1, 0], CATALOGUE.items.length, false), CATALOGUE.items.length);
      expect((await send(u, 1, counts)).status).toBe(400);
      for (const reads of [['home-hero', 'recipe-soup'], ['recipe-soup']]) {
        const { bytes } = await deviceStatistics(u, reads);
        expect((await send(u, 1, bytes)).status).toBe(202);
      }
      const summary = (await json(`${u}/api/rounds`)).body;
      expect(summary.round).toBe(2);
      expect(summary.rounds[1]).toMatchObject({ round: 1, kind: 'statistics', clients: 2 });
      // Items and pairs, each of norm 1 and noised at deviation z: one mechanism at z/√2.
      expect(summary.rounds[1].epsilon).toBeCloseTo(epsilonOf(1, 1.5 / Math.SQRT2, 1, 1e-5), 6);
      expect(summary.rounds[1].epsilon).toBeGreaterThan(epsilonOf(1, 1.5, 1, 1e-5) + 0.1);
    } finally {
      await c.close();
    }
  });

  it('with statisticsEpsilon: its noise spends that ε; the whole budget leaves it the only round', async () => {
    for (const [statisticsEpsilon, budget] of [
      [2, 2],
      [1, 6],
    ] as const) {
      const c = createCollector({
        catalogue: CATALOGUE,
        data: await pgliteDataDir(),
        port: 0,
        federated: {
          dir: tempDir('attnflow-stats-'),
          minClients: 2,
          noiseMultiplier: 1,
          delta: 1e-5,
          epsilonBudget: budget,
          statisticsEpsilon,
        },
        log: () => {},
      });
      const u = await c.listen();
      try {
        expect((await json(`${u}/round`)).body).toMatchObject({ round: 1, kind: 'statistics', scaled: true });
        for (const reads of [
          ['home-hero', 'recipe-soup'],
          ['recipe-soup', 'match-report'],
        ]) {
          const { bytes } = await deviceStatistics(u, reads);
          expect((await send(u, 1, bytes)).status).toBe(202);
        }
        const summary = (await json(`${u}/api/rounds`)).body;
        const first = summary.rounds.find((r: { round: number }) => r.round === 1);
        // The round's noise is set to spend statisticsEpsilon (to the search's 0.1 %), not z = 1's.
        expect(first.epsilon).toBeLessThanOrEqual(statisticsEpsilon);
        expect(first.epsilon).toBeGreaterThan(statisticsEpsilon * 0.99);
        expect(first.noiseMultiplier).toBeCloseTo(Math.SQRT2 * noiseMultiplierFor(statisticsEpsilon, 1, 1, 1e-5), 6);
        if (statisticsEpsilon === budget) {
          // No training round: the model the counts made is published, and no round opens.
          expect(summary.status).toBe('budget spent');
          expect((await json(`${u}/round`)).status).toBe(410);
          expect((await json(`${u}/model/model.json`)).body).toMatchObject({ round: 2 });
        } else {
          expect(summary).toMatchObject({ status: 'open', round: 2 });
          expect((await json(`${u}/round`)).body).toMatchObject({ round: 2 });
        }
      } finally {
        await c.close();
      }
    }
  });

  it('is skipped where the noise is added on devices, or the model is given', async () => {
    const first = tempDir('attnflow-stats-');
    const settings = [
      { dir: first, noise: 'local' as const },
      { dir: tempDir('attnflow-stats-'), init: undefined as Uint8Array | undefined },
    ];
    for (const federated of settings) {
      // The second starts from the model the first published.
      if ('init' in federated) federated.init = new Uint8Array(readFileSync(path.join(first, 'round-1.bin')));
      const c = createCollector({ catalogue: CATALOGUE, data: await pgliteDataDir(), port: 0, federated, log: () => {} });
      const u = await c.listen();
      try {
        const info = (await json(`${u}/round`)).body;
        expect(info.round).toBe(1);
        expect(info.kind).toBeUndefined();
      } finally {
        await c.close();
      }
    }
  });
});

describe('a collector without federated training', () => {
  it('answers that it has no rounds: no content for the dashboard, and no round or update route', async () => {
    const c = createCollector({ catalogue: CATALOGUE, data: await pgliteDataDir(), port: 0, log: () => {} });
    const u = await c.listen();
    try {
      const r = await fetch(`${u}/api/rounds`);
      expect(r.status).toBe(204);
      expect(await r.text()).toBe('');
      expect((await fetch(`${u}/round`)).status).toBe(404);
      expect((await fetch(`${u}/update?round=1&id=abcdefghijklmnop`, { method: 'POST', body: 'x' })).status).toBe(404);
      expect(c.rounds).toBeUndefined();
    } finally {
      await c.close();
    }
  });
});

describe('attnflow-collect flags for federated training', () => {
  it('turn the rounds on with --model-dir, and name a flag given without it or out of range', async () => {
    const { parseCollectArgs } = await import('../../../src/entries/collect');
    const dir = tempDir('attnflow-flags-');
    const cat = path.join(dir, 'catalogue.json');
    (await import('node:fs')).writeFileSync(cat, JSON.stringify(CATALOGUE));
    const o = parseCollectArgs([
      '--catalogue',
      cat,
      '--model-dir',
      dir,
      '--min-clients',
      '5',
      '--noise',
      'local',
      '--clip',
      '0.5',
      '--round-hours',
      '2',
      '--rollback',
      '3',
      '--no-statistics',
    ]);
    expect(o).not.toBe('help');
    expect((o as { federated: unknown }).federated).toMatchObject({
      dir: path.resolve(dir),
      minClients: 5,
      noise: 'local',
      clip: 0.5,
      roundMs: 7_200_000,
      rollback: 3,
      statistics: false,
    });
    expect(parseCollectArgs(['--catalogue', cat, '--model-dir', dir])).not.toHaveProperty('federated.statistics');
    expect((parseCollectArgs(['--catalogue', cat]) as { federated?: unknown }).federated).toBeUndefined();
    expect(() => parseCollectArgs(['--catalogue', cat, '--clip', '1'])).toThrow(/--clip: federated training needs --model-dir/);
    expect(() => parseCollectArgs(['--catalogue', cat, '--model-dir', dir, '--noise', 'both'])).toThrow(
      /--noise: expected central or local/,
    );
    expect(() => parseCollectArgs(['--catalogue', cat, '--model-dir', dir, '--clip', 'big'])).toThrow(/--clip: expected a number/);
    expect(() => parseCollectArgs(['--catalogue', cat, '--model-dir', dir, '--optimizer', 'sgd'])).toThrow(/--optimizer: expected fedadam/);
    const m = parseCollectArgs([
      '--catalogue',
      cat,
      '--model-dir',
      dir,
      '--optimizer',
      'momentum',
      '--server-rate',
      '0.5',
      '--local-steps',
      '2',
    ]);
    expect((m as { federated: unknown }).federated).toMatchObject({ optimizer: 'momentum', serverRate: 0.5, localSteps: 2 });
    // A bad setting is named when the collector is made, before anything opens.
    expect(() => createCollector({ catalogue: CATALOGUE, federated: { dir, clip: -1 } })).toThrow(/federated.clip: expected a number > 0/);
    expect(parseCollectArgs(['--catalogue', cat, '--model-dir', dir, '--statistics-epsilon', '8'])).toMatchObject({
      federated: { statisticsEpsilon: 8 },
    });
    expect(() => createCollector({ catalogue: CATALOGUE, federated: { dir, epsilonBudget: 4, statisticsEpsilon: 5 } })).toThrow(
      /federated.statisticsEpsilon: expected a number in \(0, epsilonBudget = 4\]/,
    );
    expect(() => createCollector({ catalogue: CATALOGUE, federated: { dir, noiseMultiplier: 0, statisticsEpsilon: 1 } })).toThrow(
      /federated.statisticsEpsilon: needs noise/,
    );
  });
});
