/**
 * Picks items on a page without markup, from its semantics only: articles, sections with a
 * heading, figures, and repeated cards (a run of ≥ 3 siblings of one kind, one of which holds the
 * image or heading we started from). Ids come from structure and `id`/`href` attributes, never
 * from text, so they are the same on every load of the same page.
 */

const SEMANTIC = 'article,section:has(>:is(h1,h2,h3,h4,h5,h6,header)),figure,[role=article]';
const MARKERS = 'img,h2,h3,h4,h5,h6';
const OUTSIDE = 'nav,footer,[role=navigation]';
const CARD = /^(LI|DIV|ARTICLE|SECTION|A)$/;
/** What an item can be built from; added nodes without any cannot add an item. */
const BLOCKS = 'article,section,figure,img,h2,h3,h4,h5,h6,[role=article]';

const kind = (el: Element | null | undefined) => el && el.tagName + el.classList[0];

/** The items of `root`: semantic blocks first, then cards. */
export function detectItems(root: ParentNode): Element[] {
  const found = new Set<Element>();
  for (const el of root.querySelectorAll(SEMANTIC)) if (!el.closest(OUTSIDE)) found.add(el);
  for (const marker of root.querySelectorAll(MARKERS)) {
    if (marker.closest(OUTSIDE)) continue;
    let el = marker.parentElement;
    for (let depth = 0; el && el !== root && depth < 5; depth++, el = el.parentElement) {
      const k = kind(el);
      const prev = el.previousElementSibling;
      const next = el.nextElementSibling;
      // In a run of ≥ 3 of its kind: two before, one on each side, or two after.
      if (
        CARD.test(el.tagName) &&
        (kind(prev) === k
          ? kind(next) === k || kind(prev!.previousElementSibling) === k
          : kind(next) === k && kind(next!.nextElementSibling) === k)
      ) {
        found.add(el);
        break;
      }
    }
  }
  return [...found];
}

/** A stable id for `el`: its `id`, else the path of the link it holds, else its place in the tree. */
export function autoId(el: Element): string {
  const tag = el.localName;
  if (el.id) return `${tag}#${el.id}`;
  const link = el.closest('a[href]') ?? el.querySelector('a[href]');
  if (link instanceof HTMLAnchorElement && link.host + link.pathname !== location.host + location.pathname) {
    // Host and path only: a query string or hash may carry personal data.
    return `${tag}@${link.host === location.host ? '' : link.host}${link.pathname}`;
  }
  let path = '';
  let node: Element | null = el;
  for (; node && node.localName !== 'body' && !(node !== el && node.id); node = node.parentElement) {
    let i = 1;
    for (let s = node.previousElementSibling; s; s = s.previousElementSibling) if (s.tagName === node.tagName) i++;
    path = `/${node.localName}${i > 1 ? i : ''}${path}`;
  }
  return `${tag}:${node?.id ? `#${node.id}` : ''}${path}`;
}

/** `autoId(el)`, made unique among the ids in `used` with a `~2`, `~3`… suffix, and added to it. */
export function uniqueId(el: Element, used: Set<string>): string {
  const base = autoId(el);
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}~${n}`;
  used.add(id);
  return id;
}

/** Whether an added element can add items: only beside its siblings, so its parent is scanned again. */
export const addsItems = (el: Element): boolean => el.matches(BLOCKS) || !!el.querySelector(BLOCKS);
