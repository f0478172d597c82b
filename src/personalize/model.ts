/**
 * The model as personalization uses it, in the personalization chunk: loads the model chunk on
 * first use only, and never lets its absence (404, CSP, old browser) reach the page.
 */
import type { PageModel } from '../engine/chunk';
import type { Log } from '../store/types';
import type { ChunkLoader } from './loader';

export interface ModelWiring {
  /** Scores for items (id + topics); undefined when the model cannot run here. */
  scores(items: readonly { id: string; topics: readonly string[] }[]): Promise<Record<string, number> | undefined>;
  /** Backend, training steps and loss, once loaded. */
  state(): unknown;
  stop(): void;
}

export function wireModel(o: {
  store: Log;
  report(error: unknown, where: string): void;
  log(...args: unknown[]): void;
  onScores(scores: Record<string, number>): void;
  modelUrl?: string;
  /** The core's chunk loader, which loads the model chunk. */
  load: ChunkLoader;
}): ModelWiring {
  let model: Promise<PageModel | undefined> | undefined;
  let loaded: PageModel | undefined;
  let stopped = false;
  const load = () =>
    (model ??= Promise.all([o.load('model'), o.store.ready()])
      .then(([chunk, store]) => (stopped || !store ? undefined : (loaded = chunk.createPageModel({ ...o, store }))))
      .catch((error) => (o.report(error, 'loading the model'), undefined)));
  return {
    scores: (items) =>
      load().then((m) => m?.score(items).catch((error) => (o.report(error, 'scoring'), undefined))),
    state: () => loaded?.state(),
    stop() {
      stopped = true;
      loaded?.stop();
    },
  };
}
