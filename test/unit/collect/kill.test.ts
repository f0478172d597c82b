/**
 * Durability of accepted reports: the collector runs as a child process, takes reports from many
 * concurrent clients and is killed (SIGKILL) while requests are in flight. Restarted on the same
 * database, it holds every report it answered 202 to, and nothing that was never sent; SIGTERM
 * then stops it cleanly. On PGlite and on PostgreSQL.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type Db, openPglite, openPostgres } from '../../../src/collect/db';
import { estimates, killChildren, makeReport, pgliteDataDir, spawnCollector, tempDir, writeCatalogue } from './helpers';
import { type PostgresCluster, startPostgres } from './postgres';

/** Clients sending at once. */
const CLIENTS = 12;
/** Accepted reports after which the collector is killed. */
const KILL_AFTER = 120;

describe.each(['pglite', 'postgres'] as const)('a collector killed mid-write on %s', (backend) => {
  const dirs: string[] = [];
  let cluster: PostgresCluster | undefined;

  afterAll(async () => {
    killChildren();
    await cluster?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('loses no report it accepted', async () => {
    const work = tempDir();
    dirs.push(work);
    const catalogue = writeCatalogue(work);
    let store: string[];
    let openDb: () => Promise<Db>;
    if (backend === 'pglite') {
      const data = await pgliteDataDir();
      dirs.push(data);
      store = ['--data', data];
      openDb = () => openPglite(data);
    } else {
      cluster = await startPostgres();
      store = ['--database', cluster.url];
      openDb = () => openPostgres(cluster!.url);
    }
    const args = ['--catalogue', catalogue, ...store, '--rate', '1000000', '--global-rate', '1000000'];
    const first = await spawnCollector(args);

    const sent = new Set<string>();
    const accepted: string[] = [];
    let failed = 0;
    let inFlight = 0;
    let inFlightAtKill = -1;
    let stop = false;
    const killed = new Promise<void>((resolve) => {
      const client = async (): Promise<void> => {
        while (!stop) {
          const report = makeReport();
          sent.add(report.id);
          inFlight++;
          try {
            const res = await fetch(`${first.url}/report`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(report),
            });
            await res.arrayBuffer();
            if (res.status === 202) accepted.push(report.id);
            else throw new Error(`unexpected ${res.status}`);
            if (accepted.length === KILL_AFTER) {
              inFlightAtKill = inFlight - 1;
              first.child.kill('SIGKILL');
              resolve();
            }
          } catch {
            failed++;
            stop = true;
          } finally {
            inFlight--;
          }
        }
      };
      void Promise.all(Array.from({ length: CLIENTS }, client)).then(() => resolve());
    });
    await killed;
    expect(await first.exited).toBe('SIGKILL');
    // Let the clients notice.
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
    stop = true;
    expect(accepted.length).toBeGreaterThanOrEqual(KILL_AFTER);
    // Requests were on their way when it died, and they failed rather than being answered.
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(failed).toBeGreaterThan(0);

    const second = await spawnCollector(args);
    const after = await estimates(second.url, 2);
    expect(after.reports).toBeGreaterThanOrEqual(accepted.length);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.output()).toMatch(/SIGTERM, closing/);

    const db = await openDb();
    try {
      const ids = new Set((await db.query<{ id: string }>('SELECT id FROM reports')).map((r) => r.id));
      const lost = accepted.filter((id) => !ids.has(id));
      expect(lost).toEqual([]);
      expect([...ids].filter((id) => !sent.has(id))).toEqual([]);
      // Reports in flight at the kill may or may not have been committed; nothing beyond those.
      expect(ids.size).toBeLessThanOrEqual(accepted.length + CLIENTS);
    } finally {
      await db.close();
    }
  }, 60_000);
});
