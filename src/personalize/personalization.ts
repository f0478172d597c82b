/**
 * Personalization as the core gets it from its chunk (`chunks/personalize.ts`): the personalizer
 * with the log's aggregates and the model wired in, whose own chunk loads only when scores are
 * first needed.
 */
import type { PageModel } from '../engine/chunk';
import { createPersonalizer, type PersonalizeHost, type Personalizer } from './personalizer';
import { emptyProfile, fromKnown } from './profile';
import type { Log } from '../store/types';
import type { ChunkLoader } from './loader';

export { createPersonalizer };
export type { PersonalizeHost, Personalizer };

/** What the core lends the chunk: the personalizer's host, plus the log and the model's settings. */
export interface PersonalizationHost extends Omit<PersonalizeHost, 'scores' | 'modelState' | 'known' | 'load'> {
  store: Log;
  /** The core's chunk loader: the model and the overlay are chunks of their own. */
  load: ChunkLoader;
  modelUrl?: string;
  /** The site's collector: with `modelUrl`, the device joins the site model's federated rounds. */
  collectUrl?: string;
  onScores(scores: Record<string, number>): void;
}

export interface Personalization extends Personalizer {
  /** Model scores of items by id (all items measured or marked up when none are given). */
  scores(itemIds?: readonly string[]): Promise<Record<string, number>>;
}

export function createPersonalization(host: PersonalizationHost): Personalization {
  const { store, report, modelUrl, onScores, load } = host;
  const model = wireModel({
    store,
    report,
    modelUrl,
    collectUrl: host.collectUrl,
    canStore: host.canStore,
    onScores,
    load,
    log: host.log ?? (() => {}),
  });
  const p = createPersonalizer({
    ...host,
    scores: model.scores,
    modelState: model.state,
    // The log's aggregates: a handful of records, whatever its size.
    known: (ids) => store.ready().then((s) => (s ? s.known(ids).then(fromKnown) : emptyProfile())),
  });
  return {
    ...p,
    async scores(itemIds) {
      // Items measured so far, and the marked-up ones not yet on screen.
      const topics = new Map(Object.entries(host.snapshot().items).map(([id, it]) => [id, it.topics]));
      for (const el of host.root.querySelectorAll?.('[data-attn-item]') ?? []) {
        const id = el.getAttribute('data-attn-item')!;
        if (!topics.has(id))
          topics.set(
            id,
            (el.getAttribute('data-attn-topics') ?? '')
              .split(',')
              .map((t) => t.trim())
              .filter(Boolean),
          );
      }
      const ids = Array.isArray(itemIds) ? itemIds.map(String) : [...topics.keys()];
      return (await model.scores(ids.map((id) => ({ id, topics: topics.get(id) ?? [] })))) ?? {};
    },
    stop() {
      p.stop();
      model.stop();
    },
  };
}

/** The model as personalization uses it. */
interface ModelWiring {
  /** Scores for items (id + topics); undefined when the model cannot run here. */
  scores(items: readonly { id: string; topics: readonly string[] }[]): Promise<Record<string, number> | undefined>;
  /** Backend, training steps and loss, once loaded. */
  state(): unknown;
  stop(): void;
}

/**
 * Loads the model chunk on first use only, and never lets its absence (404, CSP, old browser)
 * reach the page.
 */
function wireModel(o: {
  store: Log;
  report(error: unknown, where: string): void;
  log(...args: unknown[]): void;
  onScores(scores: Record<string, number>): void;
  modelUrl?: string;
  collectUrl?: string;
  canStore?(): boolean;
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
    scores: (items) => load().then((m) => m?.score(items).catch((error) => (o.report(error, 'scoring'), undefined))),
    state: () => loaded?.state(),
    stop() {
      stopped = true;
      loaded?.stop();
    },
  };
}
