/**
 * Core-side glue of personalization, in the script every page loads and so kept tiny: the
 * synchronous cached-order path, then lazy loading of the personalization chunk and the overlay.
 */
import { on, stopAll } from '../lib/on';
import { loadChunk } from '../chunks/load';
import { withLocalStorage } from '../store/unsaved';
import type { Personalization } from './personalization';
import type { Log } from '../store/types';
import type { AttentionSnapshot } from '../types';
import { applyCachedOrder, CACHE_KEY } from './early';
import type { Explanation, PersonalizeOptions, PersonalizeReport } from './types';

/** What the tracker lends personalization: narrow functions, never the tracker itself. */
export interface PersonalizeWiringHost {
  root: ParentNode;
  debug: boolean;
  /** Exploration rate 0..1. */
  explore: number;
  /** Share of page loads, 0..1, that keep the page's own order (the holdout). */
  holdout: number;
  snapshot(): AttentionSnapshot;
  onSnapshot(fn: (s: AttentionSnapshot) => void): () => void;
  emit(report: PersonalizeReport): void;
  report(error: unknown, where: string): void;
  canStore(): boolean;
  log(...args: unknown[]): void;
  /** The on-device log, which the model trains on and keeps its weights in. */
  store: Log;
  modelUrl?: string;
  onScores(scores: Record<string, number>): void;
  /** The page's items and their elements (several for a headed block), for the debug overlay. */
  items?(): ReadonlyMap<string, readonly [Element[], ...unknown[]]>;
}

/** What the tracker exposes from personalization. */
export interface PersonalizeWiring {
  personalize(options?: PersonalizeOptions): Promise<PersonalizeReport | undefined>;
  explain(itemId: string): Promise<Explanation | undefined>;
  /** Model scores by item id; {} where the model cannot run. */
  scores(itemIds?: readonly string[]): Promise<Record<string, number>>;
  /** Drops the order and profile kept for personalization. */
  forget(): void;
  stop(): void;
}

export function wirePersonalization(host: PersonalizeWiringHost): PersonalizeWiring {
  const original = new WeakMap<Element, string[]>();
  // One draw per page load: a held-out page keeps its own order, from first paint on.
  const held = Math.random() < host.holdout;
  const stops: Array<() => void> = [];
  let loading: Promise<Personalization | undefined> | undefined;
  let stopped = false;

  const load = () =>
    (loading ??= loadChunk('personalize').then(
      (chunk) => {
        if (stopped) return undefined;
        const p = chunk.createPersonalization({ ...host, original, load: loadChunk, held });
        stops.push(p.stop);
        return p;
      },
      // No chunk (404, CSP, old browser): the page keeps its own order.
      (error) => void host.report(error, 'loading the personalization chunk'),
    ));

  const start = () => {
    if (stopped) return;
    applyCachedOrder(host.root, original, held);
    if (host.root.querySelector('[data-attn-rank],[data-attn-variant]')) void load().then((p) => p?.personalize());
    // The overlay is loaded by the personalization chunk: one small import less in every page.
    if (host.debug || /[?&]attn-debug\b/.test(location.search)) void load().then((p) => p?.debug().then((stop) => stops.push(stop)));
  };

  if (typeof document !== 'undefined') {
    if (document.readyState === 'loading') {
      // Items after the script tag are not parsed yet: order what is there, then look again.
      applyCachedOrder(host.root, original, held);
      stops.push(on(document, 'DOMContentLoaded', start));
    } else start();
  }

  return {
    personalize: (options) => load().then((p) => p?.personalize(options)),
    explain: (itemId) => load().then((p) => p?.explain(itemId)),
    scores: (itemIds) => load().then((p) => p?.scores(itemIds) ?? {}),
    forget() {
      // Storage blocked: nothing was kept there.
      withLocalStorage((ls) => ls.removeItem(CACHE_KEY));
      void loading?.then((p) => p?.forget());
    },
    stop() {
      stopped = true;
      stopAll(stops);
    },
  };
}
