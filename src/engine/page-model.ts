/**
 * The model on a page (model chunk, page side): connects the learner to the on-device store —
 * the visitor's recent log, weights, the backend measured on this device, cached scores — and
 * trains after the log's flushes, in the leader tab only.
 */
import type { Store } from '../store/store';
import { createStoreExtras, type StoreExtras } from '../store/extras';
import { DB_NAME } from '../store/schema';
import { HISTORY_LIMIT } from './window';
import { siteModel } from '../model/manifest';
import { parseRoundInfo } from '../federated/round';
import { createLearner, type BackendChoice, type Candidate, type FederatedDeps, type Learner, type LearnerState } from './learner';

export interface PageModelOptions {
  store: Store;
  report(error: unknown, where: string): void;
  log(...args: unknown[]): void;
  /** Called with new scores after each scoring. */
  onScores(scores: Record<string, number>): void;
  /** Manifest of site-trained weights (`modelUrl`). */
  modelUrl?: string;
  /** Run the model in a Worker when possible; default true. */
  worker?: boolean;
  /** The site's collector (`collectUrl`): with `modelUrl`, this device takes part in the site model's federated rounds. */
  collectUrl?: string;
  /** True while storing is allowed (consent given, no GPC or DNT). */
  canStore?(): boolean;
}

/** The federated rounds' part of the page: the collector's round, this device's record of each round, the sending. */
function federatedDeps(o: PageModelOptions, extras: StoreExtras, collectUrl: string): FederatedDeps {
  const at = (path: string) => new URL(path, new URL(collectUrl, globalThis.location?.href)).href;
  const quiet = { credentials: 'omit', referrerPolicy: 'no-referrer', cache: 'no-store' } as const;
  return {
    // Per round once, in the log that persists: a memory-only log would join every round anew on every page.
    allowed: () => (o.canStore?.() ?? true) && o.store.storage() === 'indexeddb',
    async round() {
      const res = await fetch(at('round'), quiet);
      return res.ok ? parseRoundInfo(await res.json()) : undefined;
    },
    async done(round) {
      const v = (await extras.get('settings', 'federated'))?.value as { round?: number; what?: 'sent' | 'declined' } | undefined;
      return v?.round === round ? v.what : undefined;
    },
    mark: (round, what) => extras.put('settings', { key: 'federated', value: { round, what } }),
    async send(round, update) {
      const id = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
      // A simple request (text/plain, no credentials): no preflight, and the collector's answer is not needed.
      await fetch(at(`update?round=${round}&id=${id}`), {
        ...quiet,
        method: 'POST',
        mode: 'no-cors',
        headers: { 'content-type': 'text/plain' },
        body: update as Uint8Array<ArrayBuffer>,
      });
    },
  };
}

export interface PageModel {
  score(items: readonly Candidate[]): Promise<Record<string, number>>;
  state(): LearnerState;
  stop(): void;
}

export function createPageModel(o: PageModelOptions): PageModel {
  const extras: StoreExtras = createStoreExtras(o.store);
  const stops: Array<() => void> = [];
  const learner: Learner = createLearner({
    // The newest part of the log, this page's view included: read by the model itself where the
    // log is in IndexedDB, handed over from memory where it is not.
    async history() {
      await o.store.flush();
      return o.store.storage() === 'indexeddb'
        ? { log: o.store.options.name ?? DB_NAME, recent: HISTORY_LIMIT }
        : extras.recent(HISTORY_LIMIT);
    },
    async loadWeights() {
      const w = await extras.get('weights', 'visitor');
      const meta = w?.meta as { steps?: number; site?: unknown } | undefined;
      return w
        ? { data: new Uint8Array(w.data), steps: meta?.steps ?? 0, site: typeof meta?.site === 'string' ? meta.site : undefined }
        : undefined;
    },
    saveWeights: (bytes, meta) =>
      extras.put('weights', {
        name: 'visitor',
        // The store clones what it is given: bytes that fill their buffer go as they are.
        data: bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : bytes.slice().buffer,
        meta,
        savedAt: Date.now(),
      }),
    loadBackend: async () => (await extras.get('settings', 'backend'))?.value as BackendChoice | undefined,
    saveBackend: (choice) => extras.put('settings', { key: 'backend', value: choice }),
    isLeader: () => extras.isLeader(),
    site: o.modelUrl ? siteModel(o.modelUrl) : undefined,
    report: o.report,
    log: o.log,
    worker: o.worker,
    federated: o.modelUrl && o.collectUrl ? federatedDeps(o, extras, o.collectUrl) : undefined,
  });

  // Train after the log is flushed: the newest attention is what it learns from.
  const afterFlush = () => {
    void learner.train().then((r) => r && o.log('model trained', learner.state()));
  };
  o.store.flushed.add(afterFlush);
  stops.push(() => o.store.flushed.delete(afterFlush));
  // Another tab trained: take its weights.
  stops.push(extras.onChange('weights', (remote) => remote && void learner.reload().catch((e) => o.report(e, 'loading new weights'))));

  let first = true;
  return {
    async score(items) {
      const scores = await learner.score(items);
      // A page that scores also learns from what was logged since the last training round.
      if (first) (first = false), afterFlush();
      void extras.put('scores', { name: 'last', scores, savedAt: Date.now() });
      o.onScores(scores);
      return scores;
    },
    state: () => learner.state(),
    stop() {
      while (stops.length) stops.pop()!();
      learner.dispose();
      extras.close();
    },
  };
}
