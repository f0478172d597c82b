/**
 * attnflow-collect's HTTP server: serves the questions devices answer (`GET /questions`, from the
 * catalogue), receives private attention reports (`POST /report`), stores each valid one exactly
 * once, answers estimates (`GET /api/estimates?days=N`) and serves the dashboard
 * under a strict Content Security Policy. Stateless over its database: several instances on one
 * PostgreSQL answer alike. A request that is refused (size, type, schema, replay, rate) stores nothing.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { validateReport } from '../report/estimate';
import { questionsOf } from '../report/questions';
import { REPORT_VERSION, utcDay } from '../report/values';
import { type Catalogue, loadCatalogue, parseCatalogue } from './catalogue';
import { type Db, openPglite, openPostgres } from './db';
import { buildEstimates, type EstimatesResponse, lastDays } from './estimates';
import { insertReport, readReports } from './reports';
import { checkFederated, type FederatedOptions, Rounds } from './rounds';

/** Options of `createCollector`. */
export interface CollectorOptions {
  /** The catalogue, parsed or as the path of its JSON file. Required. */
  catalogue: Catalogue | string;
  /** PGlite folder (embedded database). Default `./attnflow-collect-data`; ignored with `database`. */
  data?: string;
  /** PostgreSQL connection URL (`postgres://user:password@host:port/db`), used instead of PGlite. */
  database?: string;
  /** TCP port; 0 picks a free one. Default 4280 (browsers refuse some ports for fetch, 4190 among them). */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Site origins (`https://example.com`) whose pages may post reports (CORS). Default none. */
  origins?: string[];
  /** Fewer reports than this over the range and no estimate is given. Default 100. */
  minReports?: number;
  /** Reports per minute one client IP may send. Default 60. */
  rate?: number;
  /** Reports per minute all clients together may send to this instance. Default 6000. */
  globalRate?: number;
  /** Folder of the dashboard's static files. Default `dist/collect/dashboard/` of the package, if built. */
  dashboard?: string;
  /** Take the client IP from `X-Forwarded-For` (behind a reverse proxy). Default false. */
  trustProxy?: boolean;
  /** The clock, epoch ms. Default `Date.now`. */
  now?: () => number;
  /** Where server errors are written. Default stderr. */
  log?: (line: string) => void;
  /**
   * Federated training of the site's model (`GET /round`, `POST /update`, the model at `/model/`),
   * with differential privacy; default off.
   */
  federated?: FederatedOptions;
}

/** A collector: `listen()` opens the database and starts serving; `close()` stops serving, then closes the database. */
export interface Collector {
  /** Opens the database and listens; resolves with the URL. */
  listen(): Promise<string>;
  /** Stops accepting requests, lets the running ones finish, then closes the database. */
  close(): Promise<void>;
  /** `http://host:port` once listening, else an empty string. */
  readonly url: string;
  /** The open database (after `listen()`). */
  readonly db: Db | undefined;
  /** The federated rounds (after `listen()`, with `federated`). */
  readonly rounds: Rounds | undefined;
}

/** The largest report body, bytes. */
export const BODY_LIMIT = 1024;
/** Default port. */
export const DEFAULT_PORT = 4280;
/** Ports browsers refuse to fetch from (the Fetch standard's "bad ports"): pages could not post to a collector there. */
const BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117,
  119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636,
  989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);
/** Longest range of `GET /api/estimates`, days. */
export const MAX_DAYS = 366;

/** Strict: every resource from the collector's own origin, nothing inline, no plugins, no framing. */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The package's built dashboard: `dist/collect/dashboard/`, two folders above this file in the source and in the built bin. */
const BUILT_DASHBOARD = fileURLToPath(new URL('../../dist/collect/dashboard/', import.meta.url));

const isDir = (dir: string): boolean => existsSync(dir) && statSync(dir).isDirectory();

/** Messages for the refusals Fastify makes itself, by its error code. */
const MESSAGES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: `a report is at most ${BODY_LIMIT} bytes`,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'a report is sent as application/json or text/plain',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'the Content-Length does not match the body',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
};

/** A token bucket: `perMinute` tokens refilled evenly, at most `perMinute` in store. */
function tokenBucket(perMinute: number, now: () => number): () => boolean {
  let tokens = perMinute;
  let last = now();
  return () => {
    const t = now();
    tokens = Math.min(perMinute, tokens + ((t - last) * perMinute) / 60_000);
    last = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

/** A database URL without its password. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/** An integer option ≥ `min`, or its default; throws naming the option. */
function integerOption(name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new Error(`${name}: expected an integer ≥ ${min}, received ${String(value)}`);
  return v;
}

/** Creates a collector; checks the options (throws with the option's name) but opens nothing until `listen()`. */
export function createCollector(options: CollectorOptions): Collector {
  if (options.catalogue === undefined) throw new Error('catalogue: required (a catalogue object or the path of its JSON file)');
  const catalogue = typeof options.catalogue === 'string' ? loadCatalogue(options.catalogue) : parseCatalogue(options.catalogue);
  const port = integerOption('port', options.port, DEFAULT_PORT, 0);
  if (BAD_PORTS.has(port))
    throw new Error(`port: browsers refuse to fetch from port ${port} (one of the Fetch standard's bad ports); pick another`);
  const minReports = integerOption('minReports', options.minReports, 100, 0);
  const rate = integerOption('rate', options.rate, 60);
  const globalRate = integerOption('globalRate', options.globalRate, 6000);
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? Date.now;
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const origins = new Set(options.origins ?? []);
  for (const o of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(o))
      throw new Error(`origin: expected scheme://host[:port] without a path, received ${JSON.stringify(o)}`);
  }
  if (options.federated) checkFederated(options.federated);
  const questions = questionsOf(catalogue);
  const asked = new Set(questions);
  const dashboard = options.dashboard ?? (isDir(BUILT_DASHBOARD) ? BUILT_DASHBOARD : undefined);
  if (options.dashboard !== undefined && !isDir(options.dashboard)) throw new Error(`dashboard: ${options.dashboard} is not a folder`);

  let app: FastifyInstance | undefined;
  let db: Db | undefined;
  let federation: Rounds | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  let url = '';
  /** Estimations running now, by range: concurrent requests for one range share the work. */
  const running = new Map<string, Promise<EstimatesResponse>>();

  async function build(database: Db): Promise<FastifyInstance> {
    // A report is a few hundred bytes: a client that takes seconds to send one is holding a connection, not reporting.
    const server = Fastify({ bodyLimit: BODY_LIMIT, trustProxy: options.trustProxy ?? false, logger: false, requestTimeout: 15_000 });
    // A report is JSON, sent as application/json or as text/plain: pages post it as text, a simple
    // request that needs no preflight and, with `keepalive`, outlives the tab. Any other type: 415.
    // A model update is bytes, sent as text/plain for the same reason (or application/octet-stream).
    server.removeContentTypeParser('text/plain');
    server.addContentTypeParser('text/plain', { parseAs: 'buffer' }, (request, body, done) => {
      if (request.url.startsWith('/update')) return done(null, body);
      try {
        done(null, JSON.parse((body as Buffer).toString('utf8')));
      } catch {
        done(Object.assign(new Error(MESSAGES.FST_ERR_CTP_INVALID_JSON_BODY), { statusCode: 400 }), undefined);
      }
    });

    server.setErrorHandler((error: { statusCode?: number; code?: string; message?: string }, _request, reply) => {
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
      if (status >= 500) log(`attnflow-collect: ${error.message ?? String(error)}`);
      const message =
        (error.code && MESSAGES[error.code]) || (status >= 500 ? 'the collector could not handle the request' : error.message);
      reply.code(status).send({ error: message ?? 'refused' });
    });
    server.setNotFoundHandler((_request, reply) => void reply.code(404).send({ error: 'not found' }));

    server.addHook('onSend', async (request, reply, payload) => {
      reply.header('content-security-policy', CSP);
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
      if (
        request.url.startsWith('/api/') ||
        request.url.startsWith('/report') ||
        request.url.startsWith('/update') ||
        request.url.startsWith('/round')
      ) {
        reply.header('cache-control', 'no-store');
      }
      return payload;
    });

    const cors = (request: FastifyRequest, reply: FastifyReply): void => {
      reply.header('vary', 'Origin');
      const origin = request.headers.origin;
      if (origin && origins.has(origin)) reply.header('access-control-allow-origin', origin);
    };

    // Before any refusal, the rate limit's included: a page is told why its report was refused.
    server.addHook('onRequest', async (request, reply) => {
      if (request.url === '/report' || request.url.startsWith('/report?') || request.url.startsWith('/update?')) cors(request, reply);
    });

    await server.register(rateLimit, {
      global: false,
      // Per instance: behind several instances a client may send `rate` to each.
      errorResponseBuilder: (_request, context) => ({ statusCode: 429, message: `too many requests: at most ${context.max} a minute` }),
    });

    const globalBucket = tokenBucket(globalRate, now);
    server.options('/report', (_request, reply) => {
      reply.header('access-control-allow-methods', 'POST, OPTIONS');
      reply.header('access-control-allow-headers', 'Content-Type');
      reply.header('access-control-max-age', '86400');
      reply.code(204).send();
    });
    server.post(
      '/report',
      {
        config: { rateLimit: { max: rate, timeWindow: 60_000 } },
        // After the per-client limit (onRequest), before the body is read.
        preParsing: async () => {
          if (!globalBucket()) throw Object.assign(new Error('too many reports: the collector is at capacity'), { statusCode: 429 });
        },
      },
      async (request, reply) => {
        const t = now();
        const checked = validateReport(request.body, t);
        if (!checked.ok) return reply.code(400).send({ error: checked.error });
        if (!asked.has(checked.report.q)) return reply.code(400).send({ error: "q is not one of this collector's questions" });
        const { format: _format, version: _version, ...report } = checked.report;
        if (!(await insertReport(database, report, utcDay(t)))) return reply.code(409).send({ error: 'this report was already received' });
        return reply.code(202).send({ ok: true });
      },
    );

    if (federation) {
      const rounds = federation;
      server.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
      server.get('/round', (_request, reply) => {
        reply.header('access-control-allow-origin', '*');
        if (!rounds.open) return reply.code(410).send({ error: 'no round is open: the privacy budget is spent' });
        return reply.send(rounds.info());
      });
      server.post(
        '/update',
        {
          bodyLimit: rounds.maxBytes(),
          config: { rateLimit: { max: rate, timeWindow: 60_000 } },
          preParsing: async () => {
            if (!globalBucket()) throw Object.assign(new Error('too many updates: the collector is at capacity'), { statusCode: 429 });
          },
          errorHandler: async (error: { code?: string; statusCode?: number; message?: string }, _request, reply) => {
            if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
              await rounds.oversized();
              return reply.code(413).send({ error: `an update is at most ${rounds.maxBytes()} bytes` });
            }
            const status = error.statusCode && error.statusCode < 500 ? error.statusCode : 500;
            if (status >= 500) log(`attnflow-collect: ${error.message}`);
            return reply.code(status).send({ error: status >= 500 ? 'the collector could not handle the request' : error.message });
          },
        },
        async (request, reply) => {
          const query = request.query as { round?: string; id?: string };
          const round = /^\d{1,9}$/.test(query.round ?? '') ? Number(query.round) : Number.NaN;
          if (!Number.isInteger(round)) return reply.code(400).send({ error: 'round: expected the round number' });
          if (!/^[A-Za-z0-9_-]{16,64}$/.test(query.id ?? ''))
            return reply.code(400).send({ error: 'id: expected 16 to 64 letters, digits, - or _' });
          if (!Buffer.isBuffer(request.body))
            return reply.code(415).send({ error: 'an update is sent as text/plain or application/octet-stream' });
          const body = new Uint8Array(request.body.buffer, request.body.byteOffset, request.body.byteLength);
          const outcome = await rounds.receive(round, query.id as string, body);
          if (!outcome.ok) return reply.code(outcome.status).send({ error: outcome.error });
          return reply.code(202).send({ ok: true, closed: outcome.closed });
        },
      );
      server.get('/api/rounds', async () => rounds.summary());
      await server.register(fastifyStatic, {
        root: path.resolve(options.federated!.dir),
        prefix: '/model/',
        decorateReply: false,
        dotfiles: 'deny',
        index: false,
        setHeaders: (res, file) => {
          res.header('access-control-allow-origin', '*');
          res.header('cache-control', file.endsWith('model.json') ? 'no-cache' : 'public, max-age=31536000, immutable');
        },
      });
    }

    // Without federated training there are no rounds: an empty answer, which the dashboard takes as such.
    if (!federation) server.get('/api/rounds', (_request, reply) => void reply.code(204).send());

    // The questions every device draws from: public, the same for all, readable from any page.
    const questionsBody = JSON.stringify({ format: 'attnflow-questions', version: REPORT_VERSION, questions });
    server.get('/questions', (_request, reply) => {
      reply.header('access-control-allow-origin', '*');
      reply.header('cache-control', 'public, max-age=3600');
      reply.type('application/json; charset=utf-8').send(questionsBody);
    });

    // Estimating is the costly request: a client asks at most a few times a minute (the dashboard asks once per view).
    server.get('/api/estimates', { config: { rateLimit: { max: 30, timeWindow: 60_000 } } }, async (request, reply) => {
      const raw = (request.query as { days?: string }).days ?? '7';
      const days = /^\d{1,4}$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(days >= 1 && days <= MAX_DAYS)) return reply.code(400).send({ error: `days: expected an integer in 1..${MAX_DAYS}` });
      const range = lastDays(days, now());
      const key = `${range[0]}|${range[range.length - 1]}`;
      let pending = running.get(key);
      if (!pending) {
        pending = readReports(database, range[0]!, range[range.length - 1]!)
          .then(({ reports }) => buildEstimates(catalogue, range, reports, minReports))
          .finally(() => running.delete(key));
        running.set(key, pending);
      }
      return reply.send(await pending);
    });

    if (dashboard) {
      await server.register(fastifyStatic, { root: dashboard, prefix: '/', index: 'index.html', dotfiles: 'deny' });
    } else {
      server.get('/', (_request, reply) =>
        reply
          .type('text/plain; charset=utf-8')
          .send(
            'attnflow-collect is running. No dashboard folder: build it (npm run build) or pass --dashboard DIR.\nEstimates: /api/estimates?days=7\n',
          ),
      );
    }
    return server;
  }

  /** Opens the database; errors say which one, never with its password. */
  async function openStore(): Promise<Db> {
    const where = options.database
      ? `the database ${redact(options.database)}`
      : `the PGlite folder ${options.data ?? './attnflow-collect-data'}`;
    try {
      return options.database ? await openPostgres(options.database) : await openPglite(options.data ?? './attnflow-collect-data');
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`);
    }
  }

  return {
    get url() {
      return url;
    },
    get db() {
      return db;
    },
    get rounds() {
      return federation;
    },
    async listen() {
      if (app) return url;
      db = await openStore();
      try {
        if (options.federated) {
          federation = new Rounds(db, options.federated, catalogue, now, log);
          await federation.start();
          const r = federation;
          // A round past its deadline closes with what it has.
          ticker = setInterval(
            () => void r.maybeClose().catch((e: Error) => log(`attnflow-collect: closing a round: ${e.message}`)),
            Math.min(60_000, Math.max(1000, r.roundMs / 10)),
          );
          ticker.unref?.();
        }
        app = await build(db);
        await app.listen({ port, host });
      } catch (error) {
        if (ticker) clearInterval(ticker);
        await app?.close().catch(() => {});
        await db.close().catch(() => {});
        app = db = federation = undefined;
        throw error;
      }
      const address = app.server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
      return url;
    },
    async close() {
      const server = app;
      const database = db;
      if (ticker) clearInterval(ticker);
      ticker = undefined;
      app = db = federation = undefined;
      url = '';
      if (server) await server.close();
      // Estimations still reading finish before the database goes.
      await Promise.allSettled(running.values());
      if (database) await database.close();
    },
  };
}
