/**
 * How many reports per second the collector accepts AND stores. A load generator keeps a fixed number
 * of `POST /report` requests in flight (Node's fetch, keep-alive connections) with valid reports
 * (`buildReport` over the collector's questions, distinct ids, today's UTC day); every request must
 * be answered 202, and at the end the rows of each case's database are counted: every accepted
 * report must be there. Cases, each on
 * its own empty database: (1) one instance on PGlite (a temporary folder), (2) one instance over
 * PostgreSQL (a throwaway cluster the benchmark starts and removes, with the collector's tests'
 * helper: no fsync, so the server's disk is not what is measured), (3) two instances over that
 * PostgreSQL, requests alternating between them. The rate limits are set far above what is sent:
 * the limiter runs on every request but never refuses; what is measured is the request path and
 * storage.
 *
 * What the numbers mean: reports/s is what the whole machine sustains, load generator included, and
 * `× case 1` compares it with PGlite measured in the same run (absolute rates move from run to run and
 * with whatever else the machine does). Cases take turns in short rounds, so that a burst of other
 * work lands on all of them alike; `rounds` is the range of the rounds' rates. On a 2-core machine the
 * load generator, the collector(s) and the PostgreSQL server share the two cores (`machine busy` says
 * how many cores were busy, other processes included), so case 3 cannot show scale-out there: it only
 * shows what a second instance costs or gains when no core is added. p50/p99 are per request, from the
 * call to fetch until the answer's body is read, with that many requests in flight: queueing and
 * waiting for a core included. `client CPU` is this process's (the load generator's) share.
 *
 * The collectors run as child processes (`attnflow-collect` from the sources, that is `createCollector`
 * behind its command line), each with its own event loop as when deployed. In this process the load
 * generator, Fastify and PGlite's WebAssembly would share one event loop, and the two instances of
 * case 3 would share it too, so case 3 would measure nothing. BENCH_IN_PROCESS=1 adds the same cases
 * with `createCollector` in this process, interleaved with the others, to compare. Measured so on the
 * 2-core machine (two runs, 5,000 reports at 32 and at 128 in flight): one instance in-process was
 * within the runs' noise of the same instance in a child process (PGlite 0.93–1.22×, PostgreSQL
 * 0.92–1.09×), so child processes cost cases 1 and 2 nothing measurable there, and two in-process
 * instances were not clearly faster than one in-process (0.89–1.13×), as expected of one event loop.
 *
 *   node --import tsx bench/collect/throughput.ts   # run by `npm run bench -- collect`, after error.ts
 *   BENCH_REPORTS (5000 per case and concurrency), BENCH_ROUNDS (5), BENCH_WARMUP (500 per case, not
 *   timed, stored and counted too), BENCH_CONCURRENCY (32,128), BENCH_IN_PROCESS (0)
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import pg from 'pg';
import { openPglite, openPostgres } from '../../src/collect/db';
import { countReports } from '../../src/collect/reports';
import { createCollector } from '../../src/collect/server';
import type { PeriodSummary } from '../../src/report/types';
import { buildReport, utcDay } from '../../src/report/values';
import {
  CATALOGUE,
  killChildren,
  pgliteDataDir,
  QUESTIONS,
  spawnCollector,
  tempDir,
  writeCatalogue,
} from '../../test/unit/collect/helpers';
import { type PostgresCluster, postgresBin, startPostgres } from '../../test/unit/collect/postgres';

const REPORTS = Number(process.env.BENCH_REPORTS ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 500);
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '32,128').split(',').map(Number);
const IN_PROCESS = process.env.BENCH_IN_PROCESS === '1';
/** Far above anything sent: the limiter runs on every request but never refuses. */
const RATE = 100_000_000;

/** A running collector instance, in a child process or in this one. */
interface Instance {
  url: string;
  stop(): Promise<void>;
}

/** What a case stores into, and how its rows are counted once its instances have stopped. */
interface Store {
  /** `--data DIR` or `--database URL`. */
  args: string[];
  count(): Promise<number>;
  remove(): Promise<void>;
}

/** Requests of one case at one concurrency, over all rounds. */
interface Tally {
  reports: number;
  seconds: number;
  rates: number[];
  latencies: number[];
  clientCpu: number;
  machineBusy: number;
}

interface Case {
  label: string;
  urls: string[];
  store: Store;
  /** Requests sent, warm-up included, and those not answered 202 (by reason). */
  sent: number;
  refused: Map<string, number>;
  stored?: number;
  tallies: Map<number, Tally>;
}

const scratch = tempDir('attnflow-bench-collect-');
const catalogueFile = writeCatalogue(scratch);
const running = new Set<Instance>();
const stores: Store[] = [];
let cluster: PostgresCluster | undefined;

async function startInstance(args: string[], inProcess: boolean): Promise<Instance> {
  let instance: Instance;
  if (inProcess) {
    const data = args[0] === '--data' ? args[1] : undefined;
    const database = args[0] === '--database' ? args[1] : undefined;
    const collector = createCollector({ catalogue: CATALOGUE, data, database, port: 0, rate: RATE, globalRate: RATE });
    const url = await collector.listen();
    instance = { url, stop: () => collector.close() };
  } else {
    const child = await spawnCollector(['--catalogue', catalogueFile, '--rate', String(RATE), '--global-rate', String(RATE), ...args]);
    instance = {
      url: child.url,
      async stop() {
        // SIGTERM: the collector stops accepting, finishes what runs, then closes its database (and PGlite's lock).
        child.child.kill('SIGTERM');
        await child.exited;
      },
    };
  }
  running.add(instance);
  return instance;
}

async function stopAll(): Promise<void> {
  const all = [...running];
  running.clear();
  await Promise.allSettled(all.map((i) => i.stop()));
}

/** Everything this benchmark started: instances, the cluster, the scratch folders. */
async function cleanUp(): Promise<void> {
  await stopAll();
  killChildren();
  for (const store of stores.splice(0)) await store.remove().catch(() => {});
  await cluster?.stop();
  cluster = undefined;
  rmSync(scratch, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void cleanUp().finally(() => process.exit(130));
  });
}

/** A fresh PGlite folder (from the tests' template, so that initdb runs once per PGlite version). */
async function pgliteStore(): Promise<Store> {
  const dir = await pgliteDataDir();
  const store: Store = {
    args: ['--data', dir],
    async count() {
      const db = await openPglite(dir);
      try {
        return await countReports(db);
      } finally {
        await db.close();
      }
    },
    async remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  stores.push(store);
  return store;
}

let databases = 0;
/** A fresh database on the cluster. */
async function postgresStore(url: string): Promise<Store> {
  const name = `bench_${++databases}`;
  const admin = async (sql: string): Promise<void> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const dbUrl = url.replace(/\/[^/]*$/, `/${name}`);
  const store: Store = {
    args: ['--database', dbUrl],
    async count() {
      const db = await openPostgres(dbUrl, 1);
      try {
        return await countReports(db);
      } finally {
        await db.close();
      }
    },
    remove: () => admin(`DROP DATABASE IF EXISTS ${name}`),
  };
  stores.push(store);
  return store;
}

/**
 * One device's day, so that buildReport answers real questions: each report answers one of the
 * collector's (`QUESTIONS`, the catalogue it is given) and gets its own random id.
 */
const SUMMARY: PeriodSummary = {
  items: CATALOGUE.items.map((it, i) => ({
    itemId: it.id,
    views: 1,
    viewable: 1,
    attended: i % 2,
    skipped: 1 - (i % 2),
    clicks: 0,
    attentionMs: 1000 + 4000 * i,
  })),
  depths: [0.6],
  containers: [{ container: 'for-you', arm: 'p', attentionMs: 8000 }],
};

/** `n` report bodies, JSON-encoded before the clock starts. */
function bodies(n: number): string[] {
  const day = utcDay(Date.now());
  return Array.from({ length: n }, () => JSON.stringify(buildReport(SUMMARY, { epsilon: 2, questions: QUESTIONS, day })));
}

/** Busy and total CPU time of the whole machine (Linux), in clock ticks. */
function machineTicks(): { busy: number; total: number } | undefined {
  if (!existsSync('/proc/stat')) return undefined;
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - fields[4]!, total };
}

/** Sends `reports` with `concurrency` requests in flight, request k to `urls[k % urls.length]`. */
async function load(c: Case, reports: string[], concurrency: number): Promise<Omit<Tally, 'rates' | 'reports'>> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let k = next++; k < reports.length; k = next++) {
      const t = performance.now();
      let outcome: string;
      try {
        const res = await fetch(`${c.urls[k % c.urls.length]}/report`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: reports[k],
        });
        const text = await res.text();
        outcome = res.status === 202 ? '' : `${res.status} ${text.slice(0, 80)}`;
      } catch (error) {
        outcome = (error as Error).message;
      }
      latencies.push(performance.now() - t);
      if (outcome) c.refused.set(outcome, (c.refused.get(outcome) ?? 0) + 1);
    }
  };
  c.sent += reports.length;
  const cpu0 = process.cpuUsage();
  const ticks0 = machineTicks();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const ticks1 = machineTicks();
  const cores = os.availableParallelism();
  const machineBusy = ticks0 && ticks1 ? ((ticks1.busy - ticks0.busy) / Math.max(1, ticks1.total - ticks0.total)) * cores : Number.NaN;
  return { seconds, latencies, clientCpu: (cpu.user + cpu.system) / 1e6 / seconds, machineBusy };
}

const PGLITE = 'PGlite, one instance';
const PG1 = 'PostgreSQL, one instance';
const PG2 = 'PostgreSQL, two instances';

const cases: Case[] = [];
const skipped: string[] = [];
let failed = false;
try {
  let pgSkip: string | undefined;
  if (!postgresBin()) pgSkip = 'PostgreSQL server binaries not found (initdb, pg_ctl): node scripts/ensure-postgres.mjs installs them';
  else {
    try {
      cluster = await startPostgres();
    } catch (error) {
      pgSkip = `could not start a PostgreSQL cluster: ${(error as Error).message.split('\n')[0]}`;
    }
  }
  const add = async (label: string, instances: number, store: Store, inProcess: boolean): Promise<void> => {
    const urls: string[] = [];
    // One after the other: the first creates the schema (both may; an advisory lock makes that safe).
    for (let i = 0; i < instances; i++) urls.push((await startInstance(store.args, inProcess)).url);
    cases.push({ label: inProcess ? `${label}, in-process` : label, urls, store, sent: 0, refused: new Map(), tallies: new Map() });
  };
  process.stderr.write('collector throughput: starting the collectors…\n');
  for (const inProcess of IN_PROCESS ? [false, true] : [false]) {
    await add(PGLITE, 1, await pgliteStore(), inProcess);
    if (cluster) {
      await add(PG1, 1, await postgresStore(cluster.url), inProcess);
      await add(PG2, 2, await postgresStore(cluster.url), inProcess);
    }
  }
  if (!cluster) skipped.push(PG1, PG2);

  for (const c of cases) await load(c, bodies(WARMUP), CONCURRENCY[0]!);
  const perRound = Math.ceil(REPORTS / ROUNDS);
  for (let round = 0; round < ROUNDS; round++) {
    process.stderr.write(`collector throughput: round ${round + 1} of ${ROUNDS}\n`);
    for (const concurrency of CONCURRENCY) {
      // The order turns each round: no case always follows the same one.
      for (let i = 0; i < cases.length; i++) {
        const c = cases[(i + round) % cases.length]!;
        const n = Math.min(perRound, REPORTS - round * perRound);
        if (n <= 0) continue;
        const r = await load(c, bodies(n), concurrency);
        const t = c.tallies.get(concurrency) ?? { reports: 0, seconds: 0, rates: [], latencies: [], clientCpu: 0, machineBusy: 0 };
        // CPU shares are weighted by time.
        t.clientCpu = (t.clientCpu * t.seconds + r.clientCpu * r.seconds) / (t.seconds + r.seconds);
        t.machineBusy = (t.machineBusy * t.seconds + r.machineBusy * r.seconds) / (t.seconds + r.seconds);
        t.reports += n;
        t.seconds += r.seconds;
        t.rates.push(n / r.seconds);
        for (const l of r.latencies) t.latencies.push(l);
        c.tallies.set(concurrency, t);
      }
    }
  }
  await stopAll();
  for (const c of cases) c.stored = await c.store.count();

  const quantile = (xs: number[], q: number): number => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  };
  const cores = os.availableParallelism();
  console.log(
    `collector throughput: ${REPORTS} reports per case and concurrency in ${ROUNDS} interleaved rounds (after ${WARMUP} of warm-up), ` +
      `each answered 202 by POST /report, then counted in the database; collectors in child processes${IN_PROCESS ? ' and in this one' : ''}; ${cores} cores`,
  );
  if (cores <= 2) {
    console.log(
      `on ${cores} cores the load generator, the collector(s) and PostgreSQL share the cores: two instances cannot show scale-out here`,
    );
  }
  const width = Math.max(...[...cases.map((c) => c.label), ...skipped].map((l) => l.length));
  console.log(
    `${'case'.padEnd(width)}  in flight  reports  seconds  reports/s  × case 1  rounds (reports/s)  p50 ms  p99 ms  client CPU  machine busy`,
  );
  for (const concurrency of CONCURRENCY) {
    const base = cases.find((c) => c.label === PGLITE)?.tallies.get(concurrency);
    for (const c of cases) {
      const t = c.tallies.get(concurrency)!;
      const rate = t.reports / t.seconds;
      const ratio = base ? rate / (base.reports / base.seconds) : Number.NaN;
      const range = `${Math.min(...t.rates).toFixed(0)}–${Math.max(...t.rates).toFixed(0)}`;
      console.log(
        `${c.label.padEnd(width)}  ${String(concurrency).padStart(9)}  ${String(t.reports).padStart(7)}  ${t.seconds.toFixed(2).padStart(7)}  ` +
          `${rate.toFixed(0).padStart(9)}  ${`${ratio.toFixed(2)}×`.padStart(8)}  ${range.padStart(18)}  ` +
          `${quantile(t.latencies, 0.5).toFixed(1).padStart(6)}  ${quantile(t.latencies, 0.99).toFixed(1).padStart(6)}  ` +
          `${t.clientCpu.toFixed(2).padStart(10)}  ${t.machineBusy.toFixed(2).padStart(12)}`,
      );
    }
    for (const label of skipped) {
      console.log(`${label.padEnd(width)}  ${String(concurrency).padStart(9)}  skipped (see below)`);
    }
  }
  if (skipped.length) console.log(`PostgreSQL cases skipped: ${pgSkip}`);
  for (const c of cases) {
    const refused = [...c.refused.values()].reduce((a, b) => a + b, 0);
    const accepted = c.sent - refused;
    const line = `${c.label}: ${c.sent} sent (warm-up included), ${accepted} accepted (202), ${c.stored} stored`;
    if (refused || c.stored !== accepted) {
      failed = true;
      console.log(`${line}: FAILED`);
      for (const [what, n] of c.refused) console.log(`  not accepted: ${n} × ${what}`);
    } else console.log(line);
  }
} finally {
  await cleanUp();
}
if (failed) {
  console.log('collector throughput: FAILED, some reports were not accepted or not stored');
  process.exitCode = 1;
}
// Fetch may keep idle keep-alive sockets to the stopped collectors: nothing is left to wait for.
process.exit(process.exitCode ?? 0);
