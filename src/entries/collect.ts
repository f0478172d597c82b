/**
 * attnflow-collect: the site's collector of private attention reports. Stores the locally
 * differentially private reports that pages send (`collectUrl`), and serves unbiased estimates with
 * 95% intervals and the dashboard that shows them.
 *
 *   attnflow-collect --catalogue FILE [--data DIR | --database URL] [--origin https://site] [options]
 *
 * Embedded by default (PGlite in a folder, one instance); with `--database` several stateless
 * instances share one PostgreSQL. SIGINT or SIGTERM stop it cleanly: no new requests, the running
 * ones finish, then the database closes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type Catalogue, loadCatalogue } from '../collect/catalogue';
import { type Collector, type CollectorOptions, createCollector, DEFAULT_PORT } from '../collect/server';

export type { Catalogue, Collector, CollectorOptions };
export { createCollector };

const USAGE = `usage: attnflow-collect --catalogue FILE [options]
  --catalogue FILE    the site's items, topics and containers (JSON; required)
  --data DIR          PGlite database folder (default ./attnflow-collect-data)
  --database URL      PostgreSQL instead (postgres://user:password@host:port/db): several instances may share it
  --port N            port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host H            interface (default 127.0.0.1)
  --origin URL        a site origin whose pages may post reports (CORS); repeat for several
  --min-reports N     no estimates below N reports in the range (default 100)
  --rate N            reports per minute per client IP (default 60)
  --global-rate N     reports per minute from all clients, per instance (default 6000)
  --dashboard DIR     dashboard folder (default: the package's dist/collect/dashboard/)
  --trust-proxy       take the client IP from X-Forwarded-For (behind a reverse proxy)
federated training of the site model (on with --model-dir):
  --model-dir DIR     folder the round's model.json and weights are written to (point modelUrl at it,
                      or at this collector's /model/model.json)
  --model-init FILE   weights to start round 1 from (attnflow-train's weights.bin; default a new model)
  --no-statistics     a new model starts training at once, without the statistics round (round 1:
                      devices send counts of what they read, whose sums set item biases and vectors)
  --min-clients N     updates that close a round (default 100)
  --round-hours N     a round closes at this age with what it has (default 24)
  --clip C            L2 norm each update is clipped to (default 1)
  --noise-multiplier Z  Gaussian noise deviation Z·C (default 1)
  --noise WHERE       central (the collector adds it; default) or local (each device adds its own)
  --sample-rate Q     probability a device joins a round (default 1)
  --epsilon-budget E  no round opens that would take the total ε past E (default 8)
  --statistics-epsilon E  the ε the statistics round spends, its noise set to match (default: its
                      noise is the noise multiplier's); the whole budget: no training rounds after it
  --delta D           δ of the (ε, δ) guarantee (default 1e-6)
  --local-steps N     SGD steps a device takes on its log per round (default 4)
  --local-rate R      their learning rate (default 0.5)
  --optimizer O       server step: fedadam (default), momentum or fedavg
  --server-rate R     its learning rate (default 0.01 for fedadam, 1 otherwise)
  --rollback N        start a new round from the weights of round N, then serve
  --help              this text`;

class UsageError extends Error {}

function integer(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < min)
    throw new UsageError(`--${flag}: expected an integer ≥ ${min}, received ${JSON.stringify(value)}`);
  return Number(value);
}

/** Where the reports go, for the start-up line: never the database password. */
function describeStore(options: CollectorOptions): string {
  if (!options.database) return `PGlite ${path.resolve(options.data ?? './attnflow-collect-data')}`;
  try {
    const u = new URL(options.database);
    return `PostgreSQL ${u.host}${u.pathname}`;
  } catch {
    return 'PostgreSQL';
  }
}

const FLAGS = {
  catalogue: { type: 'string' },
  data: { type: 'string' },
  database: { type: 'string' },
  port: { type: 'string' },
  host: { type: 'string' },
  origin: { type: 'string', multiple: true },
  'min-reports': { type: 'string' },
  rate: { type: 'string' },
  'global-rate': { type: 'string' },
  dashboard: { type: 'string' },
  'trust-proxy': { type: 'boolean', default: false },
  'model-dir': { type: 'string' },
  'model-init': { type: 'string' },
  'no-statistics': { type: 'boolean' },
  'min-clients': { type: 'string' },
  'round-hours': { type: 'string' },
  clip: { type: 'string' },
  'noise-multiplier': { type: 'string' },
  noise: { type: 'string' },
  'sample-rate': { type: 'string' },
  'epsilon-budget': { type: 'string' },
  'statistics-epsilon': { type: 'string' },
  delta: { type: 'string' },
  rollback: { type: 'string' },
  'local-steps': { type: 'string' },
  'local-rate': { type: 'string' },
  optimizer: { type: 'string' },
  'server-rate': { type: 'string' },
  help: { type: 'boolean', default: false },
} as const;

function flags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: FLAGS }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** Parses `argv` into collector options; throws a usage error naming the flag. */
export function parseCollectArgs(argv: string[]): CollectorOptions | 'help' {
  const values = flags(argv);
  if (values.help) return 'help';
  if (!values.catalogue)
    throw new UsageError('--catalogue FILE is required: the JSON { "items": [{ "id", "topics" }], "containers": [] } to estimate');
  let catalogue: Catalogue;
  try {
    catalogue = loadCatalogue(values.catalogue);
  } catch (error) {
    throw new UsageError(`--catalogue: ${(error as Error).message}`);
  }
  if (values.data && values.database) throw new UsageError('--data and --database: give one (PGlite folder or PostgreSQL URL)');
  if (values.database && !/^postgres(ql)?:\/\//.test(values.database)) {
    throw new UsageError('--database: expected a URL postgres://user:password@host:port/database');
  }
  const real = (flag: string, value: string | undefined): number | undefined => {
    if (value === undefined) return undefined;
    const x = Number(value);
    if (!/^[0-9.eE+-]+$/.test(value) || !Number.isFinite(x))
      throw new UsageError(`--${flag}: expected a number, received ${JSON.stringify(value)}`);
    return x;
  };
  const fedFlags = [
    'model-init',
    'no-statistics',
    'min-clients',
    'round-hours',
    'clip',
    'noise-multiplier',
    'noise',
    'sample-rate',
    'epsilon-budget',
    'statistics-epsilon',
    'delta',
    'rollback',
  ] as const;
  if (!values['model-dir'] && fedFlags.some((f) => values[f] !== undefined)) {
    throw new UsageError(`--${fedFlags.find((f) => values[f] !== undefined)}: federated training needs --model-dir DIR`);
  }
  if (values.noise !== undefined && values.noise !== 'central' && values.noise !== 'local') {
    throw new UsageError(`--noise: expected central or local, received ${JSON.stringify(values.noise)}`);
  }
  if (values.optimizer !== undefined && !['fedadam', 'momentum', 'fedavg'].includes(values.optimizer)) {
    throw new UsageError(`--optimizer: expected fedadam, momentum or fedavg, received ${JSON.stringify(values.optimizer)}`);
  }
  let init: Uint8Array | undefined;
  if (values['model-init']) {
    try {
      init = new Uint8Array(readFileSync(values['model-init']));
    } catch (error) {
      throw new UsageError(`--model-init: ${(error as Error).message}`);
    }
  }
  const hours = real('round-hours', values['round-hours']);
  const federated = values['model-dir']
    ? {
        dir: path.resolve(values['model-dir']),
        init,
        ...(values['no-statistics'] ? { statistics: false } : {}),
        minClients: integer('min-clients', values['min-clients'], 1),
        roundMs: hours === undefined ? undefined : hours * 3_600_000,
        clip: real('clip', values.clip),
        noiseMultiplier: real('noise-multiplier', values['noise-multiplier']),
        noise: values.noise as 'central' | 'local' | undefined,
        sampleRate: real('sample-rate', values['sample-rate']),
        epsilonBudget: real('epsilon-budget', values['epsilon-budget']),
        statisticsEpsilon: real('statistics-epsilon', values['statistics-epsilon']),
        delta: real('delta', values.delta),
        localSteps: integer('local-steps', values['local-steps'], 1),
        localRate: real('local-rate', values['local-rate']),
        optimizer: values.optimizer as 'fedadam' | 'momentum' | 'fedavg' | undefined,
        serverRate: real('server-rate', values['server-rate']),
      }
    : undefined;
  if (federated) Object.assign(federated, { rollback: integer('rollback', values.rollback, 1) });
  return {
    federated,
    catalogue,
    data: values.data,
    database: values.database,
    port: integer('port', values.port, 0),
    host: values.host,
    origins: values.origin,
    minReports: integer('min-reports', values['min-reports'], 0),
    rate: integer('rate', values.rate, 1),
    globalRate: integer('global-rate', values['global-rate'], 1),
    dashboard: values.dashboard === undefined ? undefined : path.resolve(values.dashboard),
    trustProxy: values['trust-proxy'],
  };
}

/**
 * The collector names an option as in code (`minReports: …`, `federated.clip: …`); on the command
 * line it is a flag (`--min-reports: …`, `--clip: …`).
 */
const asFlag = (message: string): string =>
  message.replace(/^(?:federated\.)?([a-z]\w*):/, (_, name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}:`);

/** Runs the collector until SIGINT or SIGTERM; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  let options: CollectorOptions | 'help';
  let collector: Collector;
  try {
    options = parseCollectArgs(argv);
    if (options === 'help') {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    collector = createCollector(options);
  } catch (error) {
    const message = error instanceof UsageError ? error.message : asFlag((error as Error).message);
    process.stderr.write(`attnflow-collect: ${message}\nattnflow-collect --help lists the options\n`);
    return 2;
  }
  const url = await collector.listen();
  process.stdout.write(`attnflow-collect: listening on ${url} (${describeStore(options)})\n`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      // A second signal while closing gives up waiting.
      if (stopping) process.exit(130);
      stopping = true;
      process.stdout.write(`attnflow-collect: ${signal}, closing\n`);
      collector.close().then(
        () => resolve(0),
        (error: unknown) => {
          process.stderr.write(`attnflow-collect: closing: ${(error as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

// Run when executed directly (the built bin, or node --import tsx src/entries/collect.ts), not when imported by tests.
const entry = process.argv[1] ? path.resolve(process.argv[1]) : '';
if (/attnflow-collect(\.js)?$|[\\/]entries[\\/]collect\.ts$/.test(entry)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`attnflow-collect: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
