/**
 * Thin DOM adapters of personalization: read containers and variant groups, decide whether a
 * change would be visible, and write an order. No page text is read, no HTML is written.
 */
import type { RankItem } from './types';

/** Selector of everything personalization may change. */
export const PERSONALIZABLE = '[data-attn-rank],[data-attn-variant]';
import { CACHE_KEY } from './early';

export { CACHE_KEY };

/** The last page view's decisions: container key → shown ids, variant group → shown id. */
export interface CachedOrder {
  /** Container orders (ids shown, in order). */
  c: Record<string, string[]>;
  /** Variant picks. */
  v: Record<string, string>;
}

/** A ranked container as found in the page. */
export interface FoundContainer {
  el: Element;
  /** `data-attn-rank` value, else its position among containers ("#0", "#1", …). */
  key: string;
  /** Item children in page order. */
  items: Array<RankItem & { el: Element }>;
}

/** Item id of a container child: its own `data-attn-item`, else its first descendant's. */
export function itemIdOf(child: Element): string | undefined {
  const own = child.getAttribute('data-attn-item');
  if (own) return own;
  return child.querySelector('[data-attn-item]')?.getAttribute('data-attn-item') ?? undefined;
}

/** Topics of a container child (`data-attn-topics`, comma separated). */
export function topicsOf(child: Element): string[] {
  const el = child.hasAttribute('data-attn-item') ? child : child.querySelector('[data-attn-item]');
  const raw = el?.getAttribute('data-attn-topics') ?? '';
  return raw
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
}

/** Every `data-attn-rank` container under `root`, with its items. */
export function findContainers(root: ParentNode): FoundContainer[] {
  return [...root.querySelectorAll('[data-attn-rank]')].map((el, i) => ({
    el,
    key: el.getAttribute('data-attn-rank') || `#${i}`,
    items: [...el.children].flatMap((child) => {
      const id = itemIdOf(child);
      return id ? [{ id, topics: topicsOf(child), el: child }] : [];
    }),
  }));
}

/** Every `data-attn-variant` group under `root`: group name → alternatives in page order. */
export function findVariantGroups(root: ParentNode): Map<string, Array<RankItem & { el: Element }>> {
  const groups = new Map<string, Array<RankItem & { el: Element }>>();
  for (const el of root.querySelectorAll('[data-attn-variant]')) {
    const group = el.getAttribute('data-attn-variant')!;
    const id = itemIdOf(el) ?? `${group}:${groups.get(group)?.length ?? 0}`;
    let list = groups.get(group);
    if (!list) groups.set(group, (list = []));
    list.push({ id, topics: topicsOf(el), el });
  }
  return groups;
}

/** Reads a non-negative integer attribute, or undefined. */
export function intAttr(el: Element, name: string): number | undefined {
  const raw = el.getAttribute(name);
  if (raw === null || raw.trim() === '') return undefined;
  const n = Number(raw);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : undefined;
}

/** True before the browser has painted anything: changes then cannot shift what the visitor sees. */
export function beforeFirstPaint(): boolean {
  try {
    return performance.getEntriesByType('paint').length === 0;
  } catch {
    return false;
  }
}

/** True when no part of any of `els` is inside the viewport (elements not rendered count as outside). */
export function outsideViewport(els: readonly Element[]): boolean {
  const w = innerWidth || document.documentElement.clientWidth;
  const h = innerHeight || document.documentElement.clientHeight;
  for (const el of els) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.bottom > 0 && r.top < h && r.right > 0 && r.left < w) return false;
  }
  return true;
}

/** True when changing `els` now cannot move anything the visitor sees. */
export function safeToChange(els: readonly Element[]): boolean {
  return beforeFirstPaint() || outsideViewport(els);
}

/**
 * Puts the item children of `container` into `order` (ids) and hides the ids in `hidden`.
 * Other children keep their slots as far as possible. Returns true when anything changed.
 */
export function applyOrder(container: FoundContainer, order: readonly string[], hidden: readonly string[] = []): boolean {
  const byId = new Map(container.items.map((i) => [i.id, i.el]));
  const wanted = order.map((id) => byId.get(id)).filter((el): el is Element => Boolean(el));
  for (const item of container.items) if (!order.includes(item.id)) wanted.push(item.el);
  let changed = false;
  const current = container.items.map((i) => i.el);
  for (let i = 0; i < wanted.length; i++) {
    const want = wanted[i]!;
    const at = current[i]!;
    if (want !== at) {
      at.parentNode!.insertBefore(want, at);
      current.splice(current.indexOf(want), 1);
      current.splice(i, 0, want);
      changed = true;
    }
  }
  const hide = new Set(hidden);
  for (const item of container.items) {
    const shouldHide = hide.has(item.id);
    if ((item.el as HTMLElement).hidden !== shouldHide) {
      (item.el as HTMLElement).hidden = shouldHide;
      changed = true;
    }
  }
  container.items.sort((a, b) => current.indexOf(a.el) - current.indexOf(b.el));
  return changed;
}

/** Shows exactly one alternative of a variant group (by id), hiding the others. */
export function showVariant(alternatives: ReadonlyArray<{ id: string; el: Element }>, shown: string): boolean {
  if (!alternatives.some((a) => a.id === shown)) return false;
  let changed = false;
  for (const a of alternatives) {
    const hide = a.id !== shown;
    if ((a.el as HTMLElement).hidden !== hide) {
      (a.el as HTMLElement).hidden = hide;
      changed = true;
    }
  }
  return changed;
}

/** Reads the last page view's decisions; undefined when there are none or storage is blocked. */
export function readCache(): CachedOrder | undefined {
  try {
    const raw = localStorage.getItem(CACHE_KEY);
    const parsed = raw ? (JSON.parse(raw) as CachedOrder) : undefined;
    return parsed && typeof parsed.c === 'object' && typeof parsed.v === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}
