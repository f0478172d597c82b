/**
 * Picks items on a page without markup, from its semantics only: articles, sections with a
 * heading, figures, repeated cards (a run of ≥ 3 siblings of one kind, one of which holds the
 * image or heading we started from), and, in flat documents, headed blocks (a heading and the
 * siblings after it, which no element wraps). Ids come from structure and `id`/`href` attributes,
 * never from text, so they are the same on every load of the same page; so do topics.
 */
import { placeBoxes } from './boxes';
import type { Placement } from './visibility';

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

/** Where `el` is: its path of tag names and places among siblings of its tag, from the nearest ancestor with an id. */
function placeOf(el: Element): string {
  let path = '';
  let node: Element | null = el;
  for (; node && node.localName !== 'body' && !(node !== el && node.id); node = node.parentElement) {
    let i = 1;
    for (let s = node.previousElementSibling; s; s = s.previousElementSibling) if (s.tagName === node.tagName) i++;
    path = `/${node.localName}${i > 1 ? i : ''}${path}`;
  }
  return `${node?.id ? `#${node.id}` : ''}${path}`;
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
  return `${tag}:${placeOf(el)}`;
}

/** Whether an added element can add items: only beside its siblings, so its parent is scanned again. */
export const addsItems = (el: Element): boolean => el.matches(BLOCKS) || !!el.querySelector(BLOCKS);

// ---- Headed blocks: flat documents ---------------------------------------------------------

/** What is never content: site navigation, tables of contents, footers, sidebars. */
const NOT_CONTENT = 'nav,footer,aside,[role=navigation],[role=contentinfo],[role=complementary],[role=search],#toc,.toc';
/** Blocks taller than this many viewports split at their sub-headings. */
const TALL = 2;

/** The level (1–6) of `el` if it is a heading, or a wrapper that only holds one (`<div><h2>…</h2><a>edit</a></div>`). */
function levelOf(el: Element): number {
  const h = /^H([1-6])$/.test(el.tagName) ? el : el.children.length <= 3 && el.firstElementChild;
  return h && /^H[1-6]$/.test(h.tagName) && !el.querySelector('p,pre,ul,ol,table,img') ? +h.tagName[1]! : 0;
}

/** The content root found by text last: kept for what is added inside it (an infinite list grows there). */
let byText: Element | undefined;

/**
 * The page's main content: `main`, `[role=main]`, else the element holding the most paragraph
 * text (the one found last, when `added` is inside it).
 */
export function contentRoot(doc: Document = document, added?: ParentNode): Element {
  const main = doc.querySelector('main,[role=main]');
  if (main && !main.closest(NOT_CONTENT)) return main;
  if (added && byText?.isConnected && byText.contains(added as Node)) return byText;
  const text = new Map<Element, number>();
  for (const p of doc.querySelectorAll('p')) {
    const parent = p.parentElement;
    if (parent && !parent.closest(NOT_CONTENT)) text.set(parent, (text.get(parent) ?? 0) + (p.textContent?.length ?? 0));
  }
  let best: Element = doc.body;
  let most = 0;
  for (const [el, n] of text) if (n > most) (most = n), (best = el);
  // A page still empty (an app about to render) is asked again next time.
  if (most) byText = best;
  return best;
}

/** Share of `els`' text that is link text: navigation and link lists are mostly links. */
function linkShare(els: Element[]): number {
  let all = 0;
  let links = 0;
  for (const el of els) {
    all += el.textContent?.trim().length ?? 0;
    if (el.localName === 'a') links += el.textContent?.trim().length ?? 0;
    else for (const a of el.querySelectorAll('a')) links += a.textContent?.trim().length ?? 0;
  }
  return all ? links / all : 1;
}

const height = (els: Element[]) => {
  const a = els[0]!.getBoundingClientRect();
  const b = els[els.length - 1]!.getBoundingClientRect();
  return b.bottom - a.top;
};

/**
 * The headed blocks among `children` (siblings, in order): each heading of the top level present
 * (h2–h4) with the siblings after it up to the next heading of that level or higher, and the lead
 * before the first one. A block taller than two viewports splits at its sub-headings: its heading
 * and the text before the first of them stay one block, each sub-heading starts one.
 */
function blocksOf(children: Element[], from: number, out: Element[][]): void {
  const levels = children.map(levelOf);
  const top = Math.min(...levels.filter((l) => l >= Math.max(from, 2) && l <= 4));
  if (!Number.isFinite(top)) return void out.push(children);
  let run: Element[] = [];
  const close = () => {
    if (!run.length) return;
    const sub = run.slice(1);
    if (levelOf(run[0]!) === top && sub.some((el) => levelOf(el) > top && levelOf(el) <= 4) && height(run) > TALL * innerHeight) {
      const at = sub.findIndex((el) => levelOf(el) > top && levelOf(el) <= 4);
      out.push(run.slice(0, at + 1));
      blocksOf(sub.slice(at), top + 1, out);
    } else out.push(run);
    run = [];
  };
  children.forEach((el, i) => {
    if (levels[i]! && levels[i]! <= top) close();
    run.push(el);
  });
  close();
}

/**
 * The headed blocks of the main content below `node` (or around it: a heading added later is
 * grouped with its siblings). A block is kept when it holds more than its heading, lies outside
 * navigation, contents and footers and outside items found otherwise, and is not mostly links.
 */
export function detectBlocks(node: ParentNode, found: ReadonlySet<Element> = new Set()): Element[][] {
  if (!node.querySelector('h2,h3,h4')) return [];
  const doc = (node as Node).ownerDocument ?? (node as Document);
  const root = contentRoot(doc, node === doc ? undefined : node);
  const parents = new Set<Element>();
  const inside = (el: Element) => root.contains(el) && !el.closest(NOT_CONTENT);
  for (const h of node.querySelectorAll('h2,h3,h4')) {
    const at = levelOf(h.parentElement!) ? h.parentElement! : h;
    if (at.parentElement && inside(at)) parents.add(at.parentElement);
  }
  // Figures are items of their own inside a block; other items are blocks already, or hold them.
  const items = [...found].filter((f) => !f.matches('figure'));
  const taken = (el: Element) => items.some((f) => el === f || el.contains(f));
  const out: Element[][] = [];
  for (const parent of parents) {
    // A section or card is an item already; only a tall one is split into its headed blocks.
    if (items.some((f) => f.contains(parent)) && height([parent]) <= TALL * innerHeight) continue;
    const kids = [...parent.children].filter((el) => !el.matches(NOT_CONTENT + ',script,style,template'));
    const blocks: Element[][] = [];
    blocksOf(kids, 1, blocks);
    for (const block of blocks) {
      const head = levelOf(block[0]!) ? block[0]! : undefined;
      const body = head ? block.slice(1) : block;
      if (!body.length || body.some(taken) || linkShare(body) > 0.5) continue;
      if (!head && !body.some((el) => el.matches('p,pre,ul,ol,dl,table,blockquote,figure') || el.querySelector('p'))) continue;
      out.push(block);
    }
  }
  return out;
}

/** A stable id for a headed block: its heading's `id` or anchor, else the heading's (or the lead's) place. */
export function blockId(block: Element[]): string {
  const first = block[0]!;
  const level = levelOf(first);
  if (!level) return `lead:${placeOf(first)}`;
  const h = /^H/.test(first.tagName) ? first : first.firstElementChild!;
  const anchor = h.id ? h : h.querySelector('[id],a[name]');
  const name = anchor?.id || anchor?.getAttribute('name') || h.querySelector<HTMLAnchorElement>('a[href^="#"]')?.hash.slice(1);
  return name ? `h${level}#${name}` : autoId(h);
}

// ---- Topics without markup -------------------------------------------------------------------

/** Where a topic came from, shown by the debug overlay. */
export type TopicSource = 'markup' | 'tag' | 'link' | 'meta';

/** Path segments that name no topic: a page type, a language, a listing. */
const NOT_TOPICS =
  /^(a|amp|article|articles|blog|c|categories|category|content|entries|entry|html?|index|item|items|p|page|pages|post|posts|s|section|sections|stories|story|tag|tags|topic|topics|wiki|www|[a-z]{2}(-[a-z]{2})?)$/;

/** A short normalised token (`Économie & Finance` → `economie-finance`), or '' when it is none. */
export function topicToken(raw: string): string {
  let s = raw;
  try {
    s = decodeURIComponent(s);
  } catch {
    // Not percent-encoded after all.
  }
  s = s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return s.length >= 2 && s.length <= 24 && s.split('-').length <= 3 && /[a-z]/.test(s) ? s : '';
}

/**
 * The first path segment that names a section (`/sport/football/2026/…` → `sport`): numbers,
 * dates, ids (anything with a digit), slugs (more than two words), file names and page types are
 * passed over.
 */
export function pathTopic(path: string): string {
  for (const seg of path.split('/')) {
    const s = seg.toLowerCase();
    if (!s || /\d|\./.test(s) || s.split(/[-_]/).length > 2 || NOT_TOPICS.test(s)) continue;
    return topicToken(s);
  }
  return '';
}

/** The JSON-LD values of `key` anywhere in the page's structured data. */
function jsonLd(doc: Document, key: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (k === key) out.push(...(Array.isArray(x) ? x : [x]).filter((s): s is string => typeof s === 'string'));
        else if (typeof x === 'object') walk(x);
      }
    }
  };
  for (const s of doc.querySelectorAll('script[type="application/ld+json"]')) {
    try {
      walk(JSON.parse(s.textContent ?? ''));
    } catch {
      // A page's broken structured data is the page's business.
    }
  }
  return out;
}

/** The topics the page's own metadata gives its main item: section, tags, keywords. */
function pageTopics(doc: Document): string[] {
  const meta = (sel: string) => [...doc.querySelectorAll<HTMLMetaElement>(sel)].map((m) => m.content);
  const list = (vals: string[]) => vals.flatMap((v) => v.split(','));
  return [
    ...meta('meta[property="article:section"]'),
    ...jsonLd(doc, 'articleSection'),
    ...meta('meta[property="article:tag"]'),
    ...list(jsonLd(doc, 'keywords')),
    ...list(meta('meta[name="keywords"]')),
  ];
}

/** Whether the page says it is one article (Open Graph, article metadata, JSON-LD). */
const isArticle = (doc: Document) =>
  !!doc.querySelector('meta[property="og:type"][content=article],meta[property^="article:"]') ||
  jsonLd(doc, '@type').some((t) => /Article|BlogPosting|Report/.test(t));

/**
 * The page's main item among `items` (first elements, in document order): the one that holds the
 * page's `h1`, or, on a page that says it is an article, the first one after its `h1`.
 */
export function mainItem(items: Element[][]): Element[] | undefined {
  const h1 = items[0]?.[0]?.ownerDocument.querySelector('h1');
  if (!h1) return;
  return (
    items.find((els) => els.some((el) => el.contains(h1))) ??
    (isArticle(h1.ownerDocument) ? items.find((els) => h1.compareDocumentPosition(els[0]!) & Node.DOCUMENT_POSITION_FOLLOWING) : undefined)
  );
}

/** Most topics an item gets from the page: the first sources' come first. */
const MAX_TOPICS = 6;

/**
 * The topics of an item of a page without markup, never from its visible text, each with its
 * source, in order: `data-attn-topics` on the item or around it (then nothing else); the tags its
 * `rel="tag"` links name (the last segment of their path); the first section in the path of the
 * item's own same-site link; for the page's main item, the page's metadata (`article:section`,
 * `article:tag`, JSON-LD `articleSection` and `keywords`, `<meta name="keywords">`).
 */
export function topicsOf(els: Element[], link?: HTMLAnchorElement | null, main = false): Array<[string, TopicSource]> {
  const first = els[0]!;
  const marked = first.closest('[data-attn-topics]')?.getAttribute('data-attn-topics');
  if (marked != null) {
    return marked
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean)
      .map((t): [string, TopicSource] => [t, 'markup']);
  }
  const out = new Map<string, TopicSource>();
  const add = (raw: string, from: TopicSource) => {
    const t = topicToken(raw.trim());
    if (t && !out.has(t) && out.size < MAX_TOPICS) out.set(t, from);
  };
  for (const el of els) {
    for (const a of el.querySelectorAll<HTMLAnchorElement>('a[rel~=tag][href]'))
      add(a.pathname.split('/').filter(Boolean).pop() ?? '', 'tag');
  }
  if (link && link.host === location.host) {
    const t = pathTopic(link.pathname);
    if (t) add(t, 'link');
  }
  if (main) for (const t of pageTopics(first.ownerDocument)) add(t, 'meta');
  return [...out];
}

// ---- Items --------------------------------------------------------------------------------------

/** One item found: its first element, id, topics and elements (several for a headed block), and for a headed block how to place them. */
export type Found = [el: Element, id: string, topics: string[], els?: Element[], place?: (els: Element[]) => Placement | null];

/** The link an item stands for: a card's own link, a block's heading link; never the page itself. */
function linkOf(el: Element, block: boolean): HTMLAnchorElement | null {
  const a = block ? el.querySelector('a[href]') : (el.closest('a[href]') ?? el.querySelector('a[href]'));
  return a instanceof HTMLAnchorElement && a.host + a.pathname !== location.host + location.pathname ? a : null;
}

/** Topic sources of the items found, by first element, for the debug overlay. */
export const sources = new WeakMap<Element, Array<[string, TopicSource]>>();

/**
 * The items of `node` on a page without markup, with ids that stay those already given (`known`)
 * and are otherwise made unique among `used`.
 */
export function scan(node: ParentNode, known: WeakMap<Element, string>, used: Set<string>): Found[] {
  const items = detectItems(node);
  const all = [...items.map((el) => [el]), ...detectBlocks(node, new Set(items))].sort((a, b) =>
    a[0]!.compareDocumentPosition(b[0]!) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1,
  );
  const main = mainItem(all);
  const out: Found[] = [];
  for (const els of all) {
    const el = els[0]!;
    const block = els.length > 1 || !items.includes(el);
    let id = known.get(el);
    if (!id) {
      const base = (id = block ? blockId(els) : autoId(el));
      for (let n = 2; used.has(id); n++) id = `${base}~${n}`;
      used.add(id);
      known.set(el, id);
    }
    const topics = topicsOf(els, linkOf(el, block), els === main);
    sources.set(el, topics);
    out.push([el, id, topics.map((t) => t[0]), els, block ? placeBoxes : undefined]);
  }
  return out;
}
