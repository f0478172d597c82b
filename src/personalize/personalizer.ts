/**
 * The personalizer of a page (lazily loaded chunk): scores the items of `data-attn-rank`
 * containers and `data-attn-variant` groups, decides with the pure ranking functions, and applies
 * a decision only where it cannot move anything the visitor sees.
 */
import type { AttentionSnapshot } from '../types';
import {
  applyOrder,
  CACHE_KEY,
  findContainers,
  findVariantGroups,
  intAttr,
  safeToChange,
  showVariant,
  type CachedOrder,
  type FoundContainer,
} from './dom';
import { SITE_MODEL_WEIGHT } from '../rules';
import { blendScores, modelWeight } from './blend';
import { explainItem } from './explain';
import type { ChunkLoader } from './loader';
import { addView, attendedCount, emptyProfile, profileScores, signalsKey } from './profile';
import { hashString } from './random';
import { normalizeScores, pickVariant, rankContainer, topicDiversity, type RankResult } from './rank';
import type {
  ContainerReport,
  Explanation,
  ItemView,
  PersonalizeOptions,
  PersonalizeReport,
  RankItem,
  Scores,
  VariantReport,
  VisitorProfile,
} from './types';

/** What the tracker lends the personalizer: narrow functions, never the tracker itself. */
export interface PersonalizeHost {
  /** Root whose containers are personalized. */
  root: ParentNode;
  /** The core's chunk loader (the overlay is a chunk of its own); without it there is no overlay. */
  load?: ChunkLoader;
  /** The current page view. */
  snapshot(): AttentionSnapshot;
  /** Subscribes to every snapshot the tracker hands out; returns the unsubscribe. */
  onSnapshot(fn: (snapshot: AttentionSnapshot) => void): () => void;
  /** Emits the `personalized` event. */
  emit(report: PersonalizeReport): void;
  /** Reports an error (never throws into the page). */
  report(error: unknown, where: string): void;
  /** True while the visitor allows storing data on the device. */
  canStore(): boolean;
  /** Model scores when the model is wired in; without it the topic-affinity fallback scores. */
  scores?: (items: readonly RankItem[]) => Promise<Scores | undefined>;
  /**
   * What the on-device log holds besides the view in progress: every topic and the totals, and the
   * items among `itemIds` the visitor has seen. Without it only this view counts.
   */
  known?: (itemIds: readonly string[]) => Promise<VisitorProfile>;
  /** The page's own order of each container before any personalization (the synchronous path may have run). */
  original?: WeakMap<Element, string[]>;
  /** Exploration rate 0..1; default 0.1. */
  explore?: number;
  /** This page load is in the holdout: every container and group keeps the page's own order. */
  held?: boolean;
  /** Model state for the overlay (backend, training steps). */
  modelState?: () => unknown;
  /** Fixed seed (tests); default derived from the visitor's signals. */
  seed?: number;
  /** Debug log. */
  log?: (...args: unknown[]) => void;
  /** The page's items and their elements (several for a headed block), for the debug overlay. */
  items?(): ReadonlyMap<string, readonly [Element[], ...unknown[]]>;
}

/** What the chunk gives back to the core. */
export interface Personalizer {
  /** Scores, decides and applies where safe; resolves with the decision. */
  personalize(options?: PersonalizeOptions): Promise<PersonalizeReport | undefined>;
  /** Why `itemId` is where it is; undefined for an unknown item. Never rejects. */
  explain(itemId: string): Promise<Explanation | undefined>;
  /** The last decision, if any. */
  last(): PersonalizeReport | undefined;
  /** The visitor profile personalization sees (history + this view). */
  profile(): VisitorProfile;
  /** Drops the visitor's profile and cached order (after `forget()` or withdrawn consent). */
  forget(): void;
  /** Mounts the debug overlay (a further chunk); resolves with the function that removes it. */
  debug(): Promise<() => void>;
  /** Stops observing; the page keeps its current order. */
  stop(): void;
}

interface Pending {
  container: FoundContainer;
  result: RankResult;
  report: ContainerReport;
  scores: Scores;
}

/** Starts personalizing the page: a first pass now, then again as the visitor's signals change. */
export function createPersonalizer(host: PersonalizeHost): Personalizer {
  const log = host.log ?? (() => {});
  let base: VisitorProfile = emptyProfile();
  let viewId = '';
  let viewItems: ItemView[] = [];
  let lastKey = '';
  let last: PersonalizeReport | undefined;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Map<Element, Pending>();
  const pendingVariants = new Map<string, { alternatives: Array<RankItem & { el: Element }>; report: VariantReport }>();
  const placement = new Map<string, { rank: number; originalRank: number; explored: boolean; kept: boolean; score: number }>();

  // Past views come from the log's aggregates: the topics and totals, and the items of the page as
  // they come up (the log's size does not matter); the view in progress from the tracker's snapshots.
  const looked = new Set<string>();
  let first = true;
  let generation = 0;
  let lookups: Promise<void> = Promise.resolve();
  const lookUp = (ids: Iterable<string>): Promise<void> => {
    const fresh = [...ids].filter((id) => !looked.has(id) && !base.items[id]);
    if (!host.known || (!fresh.length && !first)) return lookups;
    fresh.forEach((id) => looked.add(id));
    // The first read brings the topics and totals too; later ones only items that came up since.
    const all = first;
    first = false;
    const gen = generation;
    return (lookups = lookups
      .then(() => host.known!(fresh))
      .then((k) => {
        if (gen !== generation) return;
        if (all) (base.topics = k.topics), (base.totals = k.totals);
        for (const id in k.items) base.items[id] ??= k.items[id]!;
      })
      .catch((error) => host.report(error, 'personalize: reading the log')));
  };
  const pageIds = () => {
    const ids = new Set(Object.keys(host.snapshot().items));
    for (const c of findContainers(host.root)) for (const i of c.items) ids.add(i.id);
    for (const alts of findVariantGroups(host.root).values()) for (const a of alts) ids.add(a.id);
    return ids;
  };
  const baseReady: Promise<void> = lookUp(pageIds());

  const profile = (): VisitorProfile => {
    const p: VisitorProfile = structuredCloneSafe(base);
    return addView(p, viewItems);
  };

  const takeSnapshot = (s: AttentionSnapshot) => {
    const id = s.page.viewId || 'view';
    if (viewId && id !== viewId) {
      // A new view (SPA navigation): what the last one earned becomes history, and the new
      // view's containers are decided soon.
      const ended = viewItems;
      void baseReady.then(() => addView(base, ended));
      lastKey = '';
    }
    viewId = id;
    void lookUp(Object.keys(s.items));
    viewItems = Object.entries(s.items).map(([itemId, it]) => ({
      itemId,
      topics: it.topics,
      attentionMs: it.attentionMs,
      clicks: it.clicks,
      skipped: it.skipped,
      viewId: id,
    }));
    const key = signalsKey(profile());
    if (key !== lastKey && !timer && !stopped) {
      // New signals: decide again soon; containers on screen wait until they are off it.
      timer = setTimeout(() => {
        timer = undefined;
        run().catch((error) => host.report(error, 'personalize'));
      }, 1500);
    }
  };

  const unsubscribe = host.onSnapshot((s) => {
    try {
      takeSnapshot(s);
    } catch (error) {
      host.report(error, 'personalize: snapshot');
    }
  });

  // A container that was on screen gets its new order as soon as it is entirely off it.
  const io =
    typeof IntersectionObserver === 'function'
      ? new IntersectionObserver((entries) => {
          for (const entry of entries) if (!entry.isIntersecting) flush();
        })
      : undefined;

  function flush(): void {
    let changed = false;
    for (const [el, p] of pending) {
      if (!safeToChange([el])) continue;
      applyContainer(p);
      pending.delete(el);
      io?.unobserve(el);
      changed = true;
    }
    for (const [group, v] of pendingVariants) {
      if (!safeToChange(v.alternatives.map((a) => a.el))) continue;
      showVariant(v.alternatives, v.report.shown);
      v.report.applied = true;
      pendingVariants.delete(group);
      for (const a of v.alternatives) io?.unobserve(a.el);
      changed = true;
    }
    if (changed && last) {
      writeCache(last);
      host.emit(last);
    }
  }

  function applyContainer(p: Pending): void {
    const changed = applyOrder(p.container, p.result.order, p.result.hidden);
    for (const item of p.container.items) {
      const s = p.scores[item.id];
      if (s !== undefined) (item.el as HTMLElement).style?.setProperty('--attn-score', String(s));
    }
    if (changed || p.result.changed) p.container.el.classList.add('attn-personalized');
    p.report.applied = true;
  }

  function writeCache(report: PersonalizeReport): void {
    // A held-out page's order is the page's own: the next page starts from the last personalized one.
    if (!host.canStore() || report.holdout) return;
    try {
      const cache: CachedOrder = { c: {}, v: {} };
      for (const c of report.containers) cache.c[c.key] = c.shown;
      for (const v of report.variants) cache.v[v.group] = v.shown;
      localStorage.setItem(CACHE_KEY, JSON.stringify(cache));
    } catch (error) {
      log('order cache not saved', error);
    }
  }

  // The model answers once its chunk and backend are up (seconds on a slow device). Until then the
  // profile decides, so the page never waits for tfjs; the model's first answer decides again.
  let model: 'idle' | 'loading' | 'ready' | 'failed' = host.scores ? 'idle' : 'failed';
  const valid = (s: Scores | undefined, items: RankItem[]): s is Scores => Boolean(s && items.some((i) => Number.isFinite(s[i.id])));

  async function scoreAll(
    items: RankItem[],
    p: VisitorProfile,
  ): Promise<{ scores: Scores; source: 'model' | 'profile'; modelWeight: number }> {
    const fromProfile = profileScores(p, items);
    if (host.scores && items.length && model === 'ready') {
      try {
        const s = await host.scores(items);
        if (valid(s, items)) {
          const ids = items.map((i) => i.id);
          // The site's own model orders a newcomer's page half-trusted; a visitor's own model
          // has to agree with what they read first.
          const site = (host.modelState?.() as { site?: boolean } | undefined)?.site === true;
          const weight = modelWeight(s, p, ids, site ? SITE_MODEL_WEIGHT : 0);
          return { scores: blendScores(fromProfile, s, ids, weight), source: weight >= 0.5 ? 'model' : 'profile', modelWeight: weight };
        }
      } catch (error) {
        host.report(error, 'personalize: model scores');
      }
    } else if (host.scores && items.length && model === 'idle') {
      model = 'loading';
      host.scores(items).then(
        (s) => {
          model = valid(s, items) ? 'ready' : 'failed';
          if (model === 'ready' && !stopped) void run().catch((error) => host.report(error, 'personalize'));
        },
        (error) => {
          model = 'failed';
          host.report(error, 'personalize: model scores');
        },
      );
    }
    return { scores: fromProfile, source: 'profile', modelWeight: 0 };
  }

  async function run(options: PersonalizeOptions = {}): Promise<PersonalizeReport> {
    await baseReady;
    lastKey = signalsKey(profile());
    const seed = options.seed ?? host.seed ?? hashString(`${lastKey}|${location.pathname}`);
    const held = host.held === true;
    const explore = held ? 0 : (options.explore ?? host.explore ?? 0.1);
    const seen = (id: string) => Boolean(p.items[id]);
    const containers = findContainers(host.root);
    const groups = findVariantGroups(host.root);
    const all = new Map<string, RankItem>();
    for (const c of containers) for (const i of c.items) all.set(i.id, { id: i.id, topics: i.topics });
    for (const alts of groups.values()) for (const a of alts) all.set(a.id, { id: a.id, topics: a.topics });
    await lookUp(all.keys());
    const p = profile();
    const { scores, source, modelWeight: weight } = await scoreAll([...all.values()], p);
    if (stopped) throw new Error('attnflow: personalization was stopped');

    const report: PersonalizeReport = {
      source,
      modelWeight: weight,
      seed,
      holdout: held,
      attended: attendedCount(p),
      scores: {},
      containers: [],
      variants: [],
    };
    for (const el of pending.keys()) io?.unobserve(el);
    pending.clear();
    placement.clear();

    for (const container of containers) {
      const keep = intAttr(container.el, 'data-attn-rank-keep') ?? 0;
      const limit = intAttr(container.el, 'data-attn-rank-limit');
      const ids = container.items.map((i) => i.id);
      const original = host.original?.get(container.el) ?? ids;
      // Rank from the page's own order (keep, ties), whatever the cached path already did.
      const at = (id: string) => (original.indexOf(id) < 0 ? original.length : original.indexOf(id));
      const inPageOrder = [...container.items].sort((a, b) => at(a.id) - at(b.id));
      const result = rankContainer(inPageOrder, held ? {} : scores, { keep, limit, seed, explore, seen });
      const norm = normalizeScores(scores, ids);
      Object.assign(report.scores, norm);
      const byId = new Map(container.items.map((i) => [i.id, i]));
      const c: ContainerReport = {
        key: container.key,
        order: result.order,
        original,
        shown: result.shown,
        hidden: result.hidden,
        kept: result.kept,
        applied: false,
        diversity: topicDiversity(result.shown.map((id) => byId.get(id)!)),
      };
      if (result.explored) c.explored = result.explored;
      report.containers.push(c);
      result.order.forEach((id, rank) =>
        placement.set(id, {
          rank,
          originalRank: original.indexOf(id) >= 0 ? original.indexOf(id) : rank,
          explored: result.explored === id,
          kept: result.kept.includes(id),
          score: norm[id] ?? 0.5,
        }),
      );
      const entry: Pending = { container, result, report: c, scores: norm };
      if (safeToChange([container.el])) applyContainer(entry);
      else {
        pending.set(container.el, entry);
        io?.observe(container.el);
      }
    }

    pendingVariants.clear();
    for (const [group, alternatives] of groups) {
      const fallback = alternatives.find((a) => !(a.el as HTMLElement).hidden)?.id;
      const pick = held
        ? fallback && { shown: fallback, explored: false }
        : pickVariant(group, alternatives, scores, { seed, explore, seen, fallback });
      if (!pick) continue;
      Object.assign(
        report.scores,
        normalizeScores(
          scores,
          alternatives.map((a) => a.id),
        ),
      );
      const v: VariantReport = { group, shown: pick.shown, explored: pick.explored, applied: false };
      report.variants.push(v);
      if (safeToChange(alternatives.map((a) => a.el))) {
        showVariant(alternatives, pick.shown);
        v.applied = true;
      } else {
        pendingVariants.set(group, { alternatives, report: v });
        for (const a of alternatives) io?.observe(a.el);
      }
    }

    last = report;
    writeCache(report);
    log('personalized', report);
    host.emit(report);
    return report;
  }

  async function explain(itemId: string): Promise<Explanation | undefined> {
    await baseReady;
    if (!last) await run();
    // An item off this page is looked up in the log's catalogue.
    await lookUp([itemId]);
    const p = profile();
    let topics = p.items[itemId]?.topics;
    const el = [...host.root.querySelectorAll('[data-attn-item]')].find((e) => e.getAttribute('data-attn-item') === itemId);
    if (el)
      topics = (el.getAttribute('data-attn-topics') ?? '')
        .split(',')
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean);
    if (!topics) return undefined;
    const place = placement.get(itemId);
    return explainItem({ id: itemId, topics }, p, place ? { ...place } : { score: last?.scores[itemId] ?? 0.5 });
  }

  const self: Personalizer = {
    personalize: (options) =>
      run(options).catch((error) => {
        host.report(error, 'personalize');
        return undefined;
      }),
    explain: (itemId) =>
      explain(String(itemId)).catch((error) => {
        host.report(error, 'explain');
        return undefined;
      }),
    last: () => last,
    profile,
    debug: () =>
      (host.load ?? (() => Promise.reject(new Error('attnflow: no chunk loader'))))('debug').then(
        (chunk) => chunk.mountOverlay({ ...host, personalizer: async () => self }),
        (error) => (host.report(error, 'loading the debug overlay'), () => {}),
      ),
    forget() {
      base = emptyProfile();
      looked.clear();
      first = true;
      generation++;
      viewItems = [];
      last = undefined;
      try {
        localStorage.removeItem(CACHE_KEY);
      } catch {
        // Storage blocked: nothing was kept there.
      }
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      unsubscribe();
      io?.disconnect();
      pending.clear();
      pendingVariants.clear();
    },
  };
  return self;
}

function structuredCloneSafe<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
