/**
 * Attention accounting for one page view: plain data in, plain numbers out. No DOM, no timers;
 * every call carries its own time `t` (monotonic ms), so the same code runs in the page, in a
 * Worker and in Node tests with a fake clock. State is piecewise constant between calls: each call
 * first integrates up to `t` with the old state, then applies its change.
 */
import type { ClickKind } from '../capture/clicks';
import type { Placement } from '../capture/visibility';
import type { AttentionSnapshot, ItemAttention, PageAttention } from '../types';
import { HOVER_BOOST, isSkipped, isViewable, VIEWABLE_MS } from '../rules';

export type { Placement };

/** What identifies a view; the tracker fills it from the page. */
export type ViewMeta = Pick<PageAttention, 'startedAt' | 'viewId' | 'path'>;

/** What an item earns in a view: the snapshot's fields before rounding. */
type Earned = Omit<ItemAttention, 'skipped' | 'topics'>;

interface Item extends Placement {
  id: string;
  /** Numbers of the current view. */
  n: Earned;
  topics: string[];
  /** Intersecting the viewport now. */
  on: boolean;
  hover: boolean;
  /** Current unbroken viewable run, ms. */
  run: number;
}

export interface Account {
  /** Registers an item (idempotent); topics are kept from the first call. */
  add(id: string, topics?: string[]): void;
  /** Input from the visitor (scroll, wheel, pointer, key, touch) at `t`; true when it ended an idle spell. */
  input(t: number): boolean;
  /** The page became visible (true) or hidden (false). Becoming visible counts as input. */
  page(t: number, visible: boolean): void;
  /** Page visible and an item on screen: the only time a timer needs to run. */
  busy(): boolean;
  /** Whether a `<video>`/`<audio>` is playing, which keeps the visitor active. */
  media(t: number, playing: boolean): void;
  /** New intersection of item `id`; `null` or a zero ratio means off screen (touching the edge is not in view). */
  place(t: number, id: string, p: Placement | null): void;
  /** The items under the pointer now (none when it left the page). */
  hover(t: number, ids: string[]): void;
  /** A click inside the items `ids` (innermost first; none outside every item); rage and dead clicks also add to the page. */
  click(ids: string[], kind: ClickKind): void;
  /** Scroll depth reached, 0..1; the page keeps the maximum. */
  depth(d: number): void;
  /** Integrates to `t`; true when something changed since the previous call to `tick`. */
  tick(t: number): boolean;
  /** The view's numbers at `t`; with `changed`, only the items that changed since the last such call. */
  snapshot(t: number, changed?: boolean): AttentionSnapshot;
  /** Ends the view at `t` and starts the next one: every number back to zero, placements kept. */
  reset(t: number, meta: ViewMeta): void;
}

const ms = Math.round;
const ratio = (r: number) => ms(r * 100) / 100;
const zero = (): Earned => ({
  attentionMs: 0,
  visibleMs: 0,
  viewableMs: 0,
  hoverMs: 0,
  maxVisibleRatio: 0,
  clicks: 0,
  viewable: false,
  rageClicks: 0,
  deadClicks: 0,
});

/** The weight of an on-screen item when the unit of attention is split. */
export const weight = (p: Placement, hovered: boolean): number => (p.share + p.band) * (hovered ? HOVER_BOOST : 1);

export function createAccount(idleAfterMs: number, t0: number, meta: ViewMeta, visible = true): Account {
  const items = new Map<string, Item>();
  const on = new Set<Item>();
  // Items whose numbers changed since the last `snapshot(t, true)`.
  const dirty = new Set<Item>();
  let last = t0;
  let lastInput = t0;
  let playing = false;
  // The items under the pointer: one that comes on screen under it (scrolled there) is hovered at once.
  let under: string[] = [];
  let shown = visible;
  let changed = false;
  let ticked = -1;
  let view: PageAttention;
  const start = (m: ViewMeta) => {
    view = { engagedMs: 0, visibleMs: 0, scrollDepth: 0, rageClicks: 0, deadClicks: 0, ...m };
  };
  start(meta);

  const advance = (t: number) => {
    if (!(t > last)) return;
    const dt = t - last;
    if (shown) {
      const adt = playing ? dt : Math.max(0, Math.min(t, lastInput + idleAfterMs) - last);
      view.visibleMs += dt;
      view.engagedMs += adt;
      let sum = 0;
      for (const it of on) sum += weight(it, it.hover);
      for (const it of on) {
        const n = it.n;
        dirty.add(it);
        n.visibleMs += dt;
        if (it.hover) n.hoverMs += dt;
        if (isViewable(it)) {
          n.viewableMs += dt;
          if ((it.run += dt) >= VIEWABLE_MS) n.viewable = true;
        }
        n.attentionMs += adt * (sum > 0 ? weight(it, it.hover) / sum : 1 / on.size);
      }
    }
    last = t;
  };

  const get = (id: string): Item => {
    let it = items.get(id);
    if (!it) items.set(id, (it = { id, ratio: 0, share: 0, band: 0, on: false, hover: false, run: 0, topics: [], n: zero() }));
    return it;
  };

  const account: Account = {
    add(id, topics) {
      const it = get(id);
      if (topics && !it.topics.length) it.topics = topics;
    },
    input(t) {
      // Inside the active window, moving its end changes nothing already integrated.
      const woke = t - lastInput >= idleAfterMs;
      if (woke) {
        advance(t);
        changed = true;
      }
      if (t > lastInput) lastInput = t;
      return woke;
    },
    page(t, visible) {
      advance(t);
      if (visible && !shown) lastInput = Math.max(lastInput, t);
      if (!visible) for (const it of on) it.run = 0;
      shown = visible;
      changed = true;
    },
    media(t, p) {
      advance(t);
      // The visitor stays active for idleAfterMs after the media stops, as after any input.
      if (playing && !p) lastInput = Math.max(lastInput, t);
      playing = p;
    },
    place(t, id, p) {
      advance(t);
      const it = get(id);
      const now = !!p && p.ratio > 0;
      dirty.add(it);
      Object.assign(it, now ? p : { ratio: 0, share: 0, band: 0 });
      it.hover = now && under.includes(id);
      if (now) {
        on.add(it);
        if (shown && it.ratio > it.n.maxVisibleRatio) it.n.maxVisibleRatio = it.ratio;
      } else {
        // Off screen means not under the pointer either (an element removed under it gets no pointerout).
        on.delete(it);
      }
      if (!now || !isViewable(it)) it.run = 0;
      it.on = now;
      changed = true;
    },
    hover(t, ids) {
      advance(t);
      under = ids;
      for (const it of on) it.hover = false;
      for (const id of ids) {
        const it = items.get(id);
        if (it?.on) it.hover = true;
      }
      changed = true;
    },
    click(ids, kind) {
      if (kind !== 'clicks') view[kind]++;
      for (const id of ids) dirty.add(get(id)), get(id).n[kind]++;
      changed = true;
    },
    depth(d) {
      if (d > view.scrollDepth) {
        view.scrollDepth = Math.min(1, d);
        changed = true;
      }
    },
    busy: () => shown && on.size > 0,
    tick(t) {
      advance(t);
      const moved = changed || view.engagedMs !== ticked;
      changed = false;
      ticked = view.engagedMs;
      return moved;
    },
    snapshot(t, changed) {
      advance(t);
      const out: AttentionSnapshot = {
        page: { ...view, engagedMs: ms(view.engagedMs), visibleMs: ms(view.visibleMs), scrollDepth: ratio(view.scrollDepth) },
        items: {},
      };
      // A tick's snapshot walks only what changed: on a page of thousands of items, a few are on screen.
      for (const it of changed ? dirty : items.values()) {
        const { id, on: shownNow, n, topics } = it;
        if (!shownNow && !n.visibleMs && !n.clicks) continue;
        out.items[id] = {
          ...n,
          attentionMs: ms(n.attentionMs),
          visibleMs: ms(n.visibleMs),
          viewableMs: ms(n.viewableMs),
          hoverMs: ms(n.hoverMs),
          maxVisibleRatio: ratio(n.maxVisibleRatio),
          skipped: isSkipped(n.viewableMs, n.attentionMs),
          topics: topics.slice(),
        };
      }
      if (changed) dirty.clear();
      return out;
    },
    reset(t, m) {
      advance(t);
      for (const it of items.values()) {
        it.n = zero();
        it.run = 0;
        if (it.on && shown) it.n.maxVisibleRatio = it.ratio;
      }
      start(m);
      lastInput = t;
      changed = true;
    },
  };
  return account;
}
