/**
 * Stateless instances over one PostgreSQL: reports sent to two collectors are each stored once (a
 * report replayed to the other instance is refused), both answer the same estimates, a third one
 * started afterwards too, and they equal the estimates computed directly from the reports sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildEstimates, lastDays } from '../../../src/collect/estimates';
import { countReports } from '../../../src/collect/reports';
import { type Collector, createCollector } from '../../../src/collect/server';
import { mulberry32 } from '../../../src/lib/random';
import type { PrivateReport } from '../../../src/report/types';
import { buildReport } from '../../../src/report/values';
import { CATALOGUE, estimates, post, QUESTIONS } from './helpers';
import { type PostgresCluster, startPostgres } from './postgres';

describe('several collectors on one PostgreSQL', () => {
  let cluster: PostgresCluster;
  const open: Collector[] = [];
  const start = async (): Promise<Collector> => {
    const c = createCollector({ catalogue: CATALOGUE, database: cluster.url, port: 0, minReports: 50, rate: 10_000 });
    open.push(c);
    await c.listen();
    return c;
  };

  beforeAll(async () => {
    cluster = await startPostgres();
  }, 30_000);
  afterAll(async () => {
    for (const c of open) await c.close();
    await cluster?.stop();
  });

  it('store each report once and answer the same estimates as one instance', async () => {
    // Two instances starting together create the schema once.
    const [a, b] = await Promise.all([start(), start()]);
    const rand = mulberry32(7);
    const days = lastDays(3, Date.now());
    const sent: PrivateReport[] = [];
    for (let i = 0; i < 240; i++) {
      const items = CATALOGUE.items
        .filter(() => rand() < 0.6)
        .map((it) => ({
          itemId: it.id,
          views: 1,
          viewable: rand() < 0.5 ? 1 : 0,
          attended: rand() < 0.4 ? 1 : 0,
          skipped: 0,
          clicks: rand() < 0.1 ? 1 : 0,
          attentionMs: Math.round(rand() * 20_000),
        }));
      const summary = {
        items,
        depths: [rand()],
        containers: [{ container: 'for-you', arm: rand() < 0.5 ? 'p' : 'h', attentionMs: 3000 } as const],
      };
      sent.push(buildReport(summary, { epsilon: i % 3 ? 3 : 5, questions: QUESTIONS, day: days[i % 3]!, rand }));
    }
    // Sent concurrently, alternating instances, in batches.
    for (let i = 0; i < sent.length; i += 24) {
      const statuses = await Promise.all(sent.slice(i, i + 24).map((r, j) => post((j % 2 ? a : b).url, r).then((res) => res.status)));
      expect(statuses.every((s) => s === 202)).toBe(true);
    }
    // The same report to both at once: one stores it, the other refuses it.
    const again = await Promise.all([post(a.url, sent[0]), post(b.url, sent[0])]);
    expect(again.map((r) => r.status).sort()).toEqual([409, 409]);
    const fresh = { ...sent[1]!, id: 'Z'.repeat(22) };
    const race = await Promise.all([post(a.url, fresh), post(b.url, fresh)]);
    expect(race.map((r) => r.status).sort()).toEqual([202, 409]);
    expect(await countReports(a.db!)).toBe(sent.length + 1);

    const [ea, eb] = await Promise.all([estimates(a.url, 3), estimates(b.url, 3)]);
    expect(ea.suppressed).toBe(false);
    expect(ea.reports).toBe(sent.length + 1);
    expect(eb).toEqual(ea);
    await Promise.all([a.close(), b.close()]);
    const single = await start();
    expect(await estimates(single.url, 3)).toEqual(ea);
    // And the same as estimating the reports directly (as the server reads them: by day, then id).
    const all = [...sent, fresh].sort((x, y) => (x.day < y.day ? -1 : x.day > y.day ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    expect(JSON.parse(JSON.stringify(await buildEstimates(CATALOGUE, days, all, 50)))).toEqual(ea);
  }, 60_000);
});
