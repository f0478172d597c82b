/**
 * The debug overlay (`?attn-debug` or `debug: true`): a heatmap tint on each item (each element
 * of a headed block) by its share of attention, per-item numbers and topics with where each came
 * from, the page's engaged time and scroll depth, and the state of the personalizer and model. Built with createElement/textContent only (no HTML strings), styled
 * through the CSSOM, inside a shadow root: it works under a strict CSP with Trusted Types.
 */
import { sources } from '../capture/detect';
import type { OverlayHost, OverlayPersonalization } from '../personalize/loader';
import type { PersonalizeReport } from '../personalize/types';

/** What the tracker lends the overlay. */
export type { OverlayHost };

type Style = Record<string, string>;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, style: Style = {}, text?: string, part?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(style)) node.style.setProperty(k, v);
  if (text !== undefined) node.textContent = text;
  if (part) node.setAttribute('data-part', part);
  return node;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Mounts the overlay; returns the function that removes it and restores every item's style. */
export function mountOverlay(host: OverlayHost): () => void {
  const hostEl = el('div', { position: 'fixed', inset: '0', 'pointer-events': 'none', 'z-index': '2147483647' });
  hostEl.id = 'attnflow-debug';
  const shadow = hostEl.attachShadow({ mode: 'open' });
  const labels = el('div', {}, undefined, 'labels');
  const panel = el(
    'div',
    {
      position: 'fixed',
      right: '12px',
      bottom: '12px',
      width: '300px',
      'max-height': '60vh',
      overflow: 'auto',
      background: 'rgba(20,20,28,.92)',
      color: '#f4f4f6',
      font: '12px/1.45 ui-monospace, monospace',
      'border-radius': '8px',
      padding: '10px 12px',
      'pointer-events': 'auto',
      'box-shadow': '0 4px 20px rgba(0,0,0,.35)',
    },
    undefined,
    'panel',
  );
  shadow.append(labels, panel);
  document.documentElement.appendChild(hostEl);

  const tinted = new Map<HTMLElement, { outline: string; boxShadow: string }>();
  let report: PersonalizeReport | undefined;
  let personalizer: OverlayPersonalization | undefined;
  let explainText: string[] = [];
  let frame = 0;
  let stopped = false;

  host
    .personalizer()
    .then((p) => {
      personalizer = p;
      report = p?.last();
      schedule();
    })
    .catch((error) => host.report(error, 'debug overlay'));

  // Which item an element belongs to, for Alt+click: a block's elements carry no attribute.
  const owner = new WeakMap<Element, string>();

  function itemElements(): Map<string, HTMLElement[]> {
    const out = new Map<string, HTMLElement[]>();
    for (const [id, [els]] of host.items?.() ?? [])
      out.set(
        id,
        els.filter((e): e is HTMLElement => e instanceof HTMLElement && e.isConnected),
      );
    for (const node of host.root.querySelectorAll<HTMLElement>('[data-attn-item]')) {
      const id = node.getAttribute('data-attn-item')!;
      if (!out.get(id)?.length) out.set(id, [node]);
    }
    for (const [id, els] of out) for (const e of els) owner.set(e, id);
    return out;
  }

  /** Each topic of an item with its source: markup, a tag link, a link's path, the page's metadata. */
  function topicsLine(node: Element, topics: string[]): string {
    const from = new Map(node.hasAttribute('data-attn-item') ? [] : sources.get(node));
    return topics.map((t) => `${t} (${from.get(t) ?? 'markup'})`).join(', ');
  }

  function line(parent: HTMLElement, label: string, value: string, part?: string): void {
    const row = el('div', { display: 'flex', 'justify-content': 'space-between', gap: '8px' }, undefined, part);
    row.append(el('span', { color: '#a9a9b8' }, label), el('span', {}, value));
    parent.appendChild(row);
  }

  function render(): void {
    frame = 0;
    if (stopped) return;
    const snap = host.snapshot();
    report = personalizer?.last() ?? report;
    const items = Object.entries(snap.items);
    const maxAttention = Math.max(1, ...items.map(([, it]) => it.attentionMs));
    const totalAttention = items.reduce((s, [, it]) => s + it.attentionMs, 0) || 1;
    const elements = itemElements();
    const h = innerHeight;

    labels.replaceChildren();
    for (const [id, nodes] of elements) {
      const it = snap.items[id];
      const share = it ? it.attentionMs / maxAttention : 0;
      for (const node of nodes) {
        if (!tinted.has(node)) tinted.set(node, { outline: node.style.outline, boxShadow: node.style.boxShadow });
        // Outline and inset shadow paint over the item without changing its layout.
        node.style.setProperty('outline', `2px solid rgba(230, 60, 30, ${(0.25 + 0.75 * share).toFixed(2)})`);
        node.style.setProperty('box-shadow', `inset 0 0 0 9999px rgba(255, 80, 40, ${(0.45 * share).toFixed(3)})`);
      }
      // The label sits on the first of its elements on screen.
      const r = nodes.map((n) => n.getBoundingClientRect()).find((b) => b.bottom > 0 && b.top < h && b.width > 0);
      if (!r) continue;
      const score = report?.scores[id];
      const place = report?.containers.find((c) => c.order.includes(id));
      const label = el(
        'div',
        {
          position: 'fixed',
          left: `${Math.max(0, r.left + 4)}px`,
          top: `${Math.max(0, r.top + 4)}px`,
          background: 'rgba(20,20,28,.85)',
          color: '#fff',
          font: '11px/1.3 ui-monospace, monospace',
          padding: '2px 5px',
          'border-radius': '4px',
          'white-space': 'pre',
        },
        undefined,
        'label',
      );
      label.setAttribute('data-item', id);
      const parts = [
        `${id}  ${it ? secs(it.attentionMs) : '0.0 s'} (${Math.round((100 * (it?.attentionMs ?? 0)) / totalAttention)}%)`,
        `viewable ${it?.viewable ? 'yes' : 'no'}  hover ${secs(it?.hoverMs ?? 0)}${it?.skipped ? '  skipped' : ''}`,
      ];
      if (it?.topics.length) parts.push(`topics ${topicsLine(nodes[0]!, it.topics)}`);
      if (score !== undefined) {
        let move = '';
        if (place) {
          const now = place.order.indexOf(id);
          const before = place.original.indexOf(id);
          const delta = before - now;
          move = `  #${now + 1} ${delta > 0 ? `▲${delta}` : delta < 0 ? `▼${-delta}` : '='}${place.explored === id ? ' explored' : ''}`;
        }
        parts.push(`score ${score.toFixed(2)}${move}`);
      }
      label.textContent = parts.join('\n');
      labels.appendChild(label);
    }

    panel.replaceChildren();
    panel.appendChild(el('div', { 'font-weight': '700', 'margin-bottom': '4px' }, 'attnflow debug', 'title'));
    const page = el('div', {}, undefined, 'page');
    line(page, 'engaged', secs(snap.page.engagedMs), 'engaged');
    line(page, 'visible', secs(snap.page.visibleMs));
    line(page, 'scroll depth', `${Math.round(snap.page.scrollDepth * 100)}%`, 'scroll-depth');
    line(page, 'items measured', String(items.length), 'items');
    panel.appendChild(page);

    const perso = el('div', { 'margin-top': '6px' }, undefined, 'personalization');
    if (report) {
      line(perso, 'scores from', report.source, 'source');
      line(perso, 'model weight', report.modelWeight.toFixed(2), 'model-weight');
      line(perso, 'items attended', String(report.attended));
      line(perso, 'seed', String(report.seed));
      for (const c of report.containers) {
        line(perso, `[${c.key}] top`, c.shown.slice(0, 3).join(', ') + (c.applied ? '' : ' (waits off screen)'), 'container');
        line(perso, `[${c.key}] topics`, `${c.diversity.topics.join(', ') || '–'} (top share ${c.diversity.topShare})`);
      }
      for (const v of report.variants) line(perso, `variant ${v.group}`, `${v.shown}${v.explored ? ' (explored)' : ''}`, 'variant');
    } else line(perso, 'personalization', 'nothing to personalize');
    panel.appendChild(perso);

    const model = el('div', { 'margin-top': '6px' }, undefined, 'model');
    let state: unknown;
    try {
      state = host.modelState?.();
    } catch {
      state = undefined;
    }
    if (state && typeof state === 'object') {
      for (const [k, v] of Object.entries(state as Record<string, unknown>)) {
        if (v === undefined || typeof v === 'object') continue;
        line(model, `model ${k}`, typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(3) : String(v));
      }
    } else line(model, 'model', 'not loaded (topic-affinity scores)', 'model-state');
    panel.appendChild(model);

    if (explainText.length) {
      const why = el('div', { 'margin-top': '6px', 'border-top': '1px solid #444', 'padding-top': '4px' }, undefined, 'explain');
      for (const t of explainText) why.appendChild(el('div', {}, t));
      panel.appendChild(why);
    }
  }

  function schedule(): void {
    if (!frame && !stopped) frame = requestAnimationFrame(render);
  }

  // Alt+click on an item shows why it is where it is.
  const onClick = (event: MouseEvent) => {
    if (!event.altKey || !personalizer) return;
    let id: string | undefined;
    for (let e = event.target as Element | null; e && !id; e = e.parentElement) id = owner.get(e);
    if (!id) return;
    event.preventDefault();
    personalizer
      .explain(id)
      .then((e) => {
        explainText = e ? [`why ${id}:`, ...e.because] : [];
        schedule();
      })
      .catch((error) => host.report(error, 'debug explain'));
  };
  addEventListener('click', onClick, true);
  const onScroll = () => schedule();
  addEventListener('scroll', onScroll, { passive: true, capture: true });
  addEventListener('resize', onScroll, { passive: true });
  const unsubscribe = host.onSnapshot(() => schedule());
  const timer = setInterval(schedule, 1000);
  schedule();

  return () => {
    stopped = true;
    unsubscribe();
    clearInterval(timer);
    if (frame) cancelAnimationFrame(frame);
    removeEventListener('click', onClick, true);
    removeEventListener('scroll', onScroll, true);
    removeEventListener('resize', onScroll);
    for (const [node, style] of tinted) {
      node.style.outline = style.outline;
      node.style.boxShadow = style.boxShadow;
    }
    hostEl.remove();
  };
}
