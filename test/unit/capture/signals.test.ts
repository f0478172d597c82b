// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { autoId, detectItems } from '../../../src/capture/detect';
import { itemsAt, observeItems } from '../../../src/capture/items';
import { observeClicks } from '../../../src/capture/clicks';
import type { ClickKind } from '../../../src/capture/clicks';
import { observeFrustration } from '../../../src/capture/frustration';
import { observeNavigation, viewKey } from '../../../src/capture/navigation';
import { observeVisibility, type Placement } from '../../../src/capture/visibility';
import { createAttention } from '../../../src/tracker';

afterEach(() => {
  document.body.replaceChildren();
  vi.useRealTimers();
});

const html = (s: string) => {
  document.body.innerHTML = s;
};
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('item detection on pages without markup', () => {
  const page = `
    <header><nav><ul><li><a href="/news"><img alt="">News</a></li><li><a href="/sport"><img alt="">Sport</a></li><li><a href="/tv"><img alt="">TV</a></li></ul></nav></header>
    <main>
      <article id="story"><h1>Secret headline words</h1><p>Text</p><figure><img alt=""></figure></article>
      <section><p>No heading: layout, not an item</p></section>
      <section><h2>Related</h2>
        <div class="grid">
          <div class="card x"><a href="/p/one?utm=1#frag"><img alt=""></a><h3>Alpha product</h3></div>
          <div class="card"><a href="/p/two"><img alt=""></a><h3>Beta product</h3></div>
          <div class="card"><a href="https://other.example/p/three?q=s"><img alt=""></a><h3>Gamma</h3></div>
          <div class="promo"><img alt=""></div>
        </div>
      </section>
    </main>
    <footer><ul><li><h3>About</h3></li><li><h3>Jobs</h3></li><li><h3>Press</h3></li></ul></footer>`;

  it('picks articles, headed sections, figures and runs of ≥ 3 cards, nothing in nav or footer', () => {
    html(page);
    const ids = detectItems(document).map(autoId);
    expect(ids).toEqual([
      'article#story',
      'figure:#story/figure',
      // A headed section holding links is named after its first link's path.
      'section@/p/one',
      'div@/p/one',
      'div@/p/two',
      'div@other.example/p/three',
    ]);
  });

  it('derives ids from structure and href paths only: no text, query string or hash', () => {
    html(page);
    const ids = detectItems(document).map(autoId).join(' ');
    expect(ids).not.toMatch(/Secret|Alpha|Beta|utm|frag|q=s|\?/);
    // Same page, same ids.
    html(page);
    expect(detectItems(document).map(autoId).join(' ')).toBe(ids);
  });
});

describe('observeItems', () => {
  it('reports marked items with topics, and items added later; a re-added item keeps its id', async () => {
    html(`<div data-attn-item="a" data-attn-topics="x, y,"></div><div data-attn-item=" "></div>`);
    const known = new WeakMap<Element, string>();
    const seen: Array<[string, string[]]> = [];
    const stop = observeItems((_el, id, topics) => seen.push([id, topics]), { known });
    expect(seen).toEqual([['a', ['x', 'y']]]);

    const later = document.createElement('section');
    later.innerHTML = '<p data-attn-item="b"><span id="inner"></span></p>';
    document.body.append(later);
    await flush();
    expect(seen.map(([id]) => id)).toEqual(['a', 'b']);
    expect(itemsAt(known, document.getElementById('inner'))).toEqual(['b']);

    const a = document.querySelector('[data-attn-item="a"]')!;
    a.remove();
    a.setAttribute('data-attn-item', 'renamed');
    document.body.append(a);
    await flush();
    expect(seen.at(-1)![0]).toBe('a');

    stop();
    const c = document.createElement('div');
    c.setAttribute('data-attn-item', 'c');
    document.body.append(c);
    await flush();
    expect(seen.map(([id]) => id)).not.toContain('c');
  });

  it('finds cards once their siblings arrive on an unannotated page', async () => {
    html('<main><ul id="feed"></ul></main>');
    const ids: string[] = [];
    const stop = observeItems((_el, id) => ids.push(id), { known: new WeakMap() });
    const feed = document.getElementById('feed')!;
    for (const slug of ['a', 'b', 'c']) {
      const li = document.createElement('li');
      li.innerHTML = `<a href="/post/${slug}"><img alt=""></a>`;
      feed.append(li);
      await flush();
    }
    // Detection is a chunk of its own: what arrived before it loaded is found when it has.
    await vi.waitFor(() => expect(new Set(ids)).toEqual(new Set(['li@/post/a', 'li@/post/b', 'li@/post/c'])));
    stop();
  });
});

describe('observeClicks', () => {
  const click = (el: Element, x = 10, y = 10) => el.dispatchEvent(new MouseEvent('click', { bubbles: true, clientX: x, clientY: y }));

  it('counts a rage burst once, and dead clicks only when nothing follows within 1 s', async () => {
    vi.useFakeTimers();
    html('<div id="plain"></div><button id="btn"></button><div id="alive"></div>');
    const kinds: Array<[string, ClickKind]> = [];
    const stop = observeFrustration((el, kind) => kinds.push([el.id, kind]));
    const plain = document.getElementById('plain')!;
    for (let i = 0; i < 4; i++) click(plain, 10 + i * 5);
    vi.advanceTimersByTime(1000);
    expect(kinds.filter(([, k]) => k === 'rageClicks')).toEqual([['plain', 'rageClicks']]);
    expect(kinds.filter(([, k]) => k === 'deadClicks').length).toBe(4);

    kinds.length = 0;
    click(document.getElementById('btn')!);
    vi.advanceTimersByTime(1000);
    expect(kinds).toEqual([]);

    const alive = document.getElementById('alive')!;
    click(alive);
    alive.setAttribute('data-open', '');
    await Promise.resolve();
    vi.advanceTimersByTime(1000);
    expect(kinds).toEqual([]);

    // Far apart in space: no rage.
    click(plain, 0, 0);
    click(plain, 100, 0);
    click(plain, 200, 0);
    expect(kinds.some(([, k]) => k === 'rageClicks')).toBe(false);
    stop();
    vi.advanceTimersByTime(1000);
    expect(kinds.some(([, k]) => k === 'deadClicks')).toBe(false);
  });

  it('counts every click at once, rage and dead clicks once the capture chunk has arrived; stopped before that, it starts nothing', async () => {
    html('<article data-attn-item="x"><div id="plain"></div></article>');
    const plain = document.getElementById('plain')!;
    const seen: string[] = [];
    const stopPlain = observeClicks((el) => seen.push(el.id));
    click(plain);
    expect(seen).toEqual(['plain']);
    stopPlain();

    const errors: unknown[] = [];
    const af = createAttention({ onError: (e) => errors.push(e) });
    click(plain);
    await vi.dynamicImportSettled();
    await flush();
    for (let i = 0; i < 3; i++) click(plain);
    expect(af.snapshot().page.rageClicks).toBe(1);
    expect(af.snapshot().items.x).toMatchObject({ clicks: 4, rageClicks: 1 });
    af.stop();
    expect(errors).toEqual([]);

    const early = createAttention();
    early.stop();
    const add = vi.spyOn(document, 'addEventListener');
    await vi.dynamicImportSettled();
    await flush();
    const types = add.mock.calls.map(([type]) => type);
    add.mockRestore();
    expect(types.filter((t) => ['click', 'playing', 'pause'].includes(t))).toEqual([]);
  });
});

describe('observeNavigation', () => {
  it('reports pushState, replaceState, popstate and hashchange, and restores history on stop', () => {
    const push = history.pushState;
    const replace = history.replaceState;
    const calls: string[] = [];
    const stop = observeNavigation(() => calls.push(viewKey()));
    expect(history.pushState).not.toBe(push);
    history.pushState({}, '', '/a?secret=1');
    history.replaceState({}, '', '/b#h');
    window.dispatchEvent(new Event('popstate'));
    window.dispatchEvent(new Event('hashchange'));
    expect(calls).toEqual(['/a', '/b#h', '/b#h', '/b#h']);
    stop();
    expect(history.pushState).toBe(push);
    expect(history.replaceState).toBe(replace);
    history.pushState({}, '', '/c');
    expect(calls.length).toBe(4);
  });
});

describe('observeVisibility', () => {
  // IntersectionObserver as the page sees it, with entries delivered by the test.
  class FakeObserver {
    static all: FakeObserver[] = [];
    targets = new Set<Element>();
    constructor(
      readonly cb: (entries: IntersectionObserverEntry[]) => void,
      readonly options: IntersectionObserverInit = {},
    ) {
      FakeObserver.all.push(this);
    }
    observe(el: Element) {
      this.targets.add(el);
    }
    unobserve(el: Element) {
      this.targets.delete(el);
    }
    disconnect() {
      this.targets.clear();
    }
    /** Delivers an entry for `el`: `visible` px of its 100 px height in a 1000 px viewport. */
    deliver(el: Element, visible: number, time: number) {
      const rect = (h: number) => ({ width: 100, height: h }) as DOMRectReadOnly;
      this.cb([
        {
          target: el,
          time,
          isIntersecting: visible > 0,
          intersectionRatio: visible / 100,
          intersectionRect: rect(visible),
          rootBounds: rect(1000),
        } as IntersectionObserverEntry,
      ]);
    }
  }
  const start = () => {
    FakeObserver.all = [];
    vi.stubGlobal('IntersectionObserver', FakeObserver);
    const calls: [Element, Placement | null, number][] = [];
    const watcher = observeVisibility((el, p, t) => calls.push([el, p, t]))!;
    const [gate, full, centre] = FakeObserver.all as [FakeObserver, FakeObserver, FakeObserver];
    return { watcher, calls, gate, full, centre };
  };
  afterEach(() => vi.unstubAllGlobals());

  it('watches every element at threshold 0, and in fine steps only while it is in view', () => {
    const { watcher, calls, gate, full, centre } = start();
    expect(gate.options.threshold).toBeUndefined();
    expect(full.options.threshold).toHaveLength(101);
    expect(centre.options).toMatchObject({ rootMargin: '-25% 0px' });
    const [a, b] = [document.createElement('div'), document.createElement('div')];
    document.body.append(a, b);
    watcher.watch(a);
    watcher.watch(b);
    expect([...gate.targets]).toEqual([a, b]);
    expect(full.targets.size + centre.targets.size).toBe(0);
    // b comes into view: the gate's entry places it, and hands it to the fine observers.
    gate.deliver(b, 10, 5);
    expect(calls).toEqual([[b, { ratio: 0.1, share: 0.01, band: 0 }, 5]]);
    expect([...full.targets, ...centre.targets]).toEqual([b, b]);
    full.deliver(b, 60, 6);
    centre.deliver(b, 50, 6);
    expect(calls.slice(1)).toEqual([
      [b, { ratio: 0.6, share: 0.06, band: 0 }, 6],
      [b, { ratio: 0.6, share: 0.06, band: 0.05 }, 6],
    ]);
    // b leaves: out, and back to the gate alone.
    gate.deliver(b, 0, 9);
    expect(calls.at(-1)).toMatchObject([b, { ratio: 0, share: 0 }, 9]);
    expect(full.targets.size + centre.targets.size).toBe(0);
    watcher.stop();
    expect(gate.targets.size).toBe(0);
  });

  it('drops a fine entry that comes after the gate took its element back', () => {
    const { watcher, calls, gate, full } = start();
    const a = document.body.appendChild(document.createElement('div'));
    watcher.watch(a);
    gate.deliver(a, 30, 1);
    gate.deliver(a, 0, 3);
    // Queued at 2, before the element left, and delivered late: it would leave it on screen.
    full.deliver(a, 5, 2);
    expect(calls.map(([, p]) => p?.ratio)).toEqual([0.3, 0]);
  });

  it('reports an element removed from the document, and stops watching it', () => {
    const { watcher, calls, gate, full, centre } = start();
    const a = document.body.appendChild(document.createElement('div'));
    watcher.watch(a);
    gate.deliver(a, 100, 1);
    a.remove();
    gate.deliver(a, 0, 2);
    expect(calls.at(-1)).toEqual([a, null, 2]);
    expect(gate.targets.size + full.targets.size + centre.targets.size).toBe(0);
  });
});

describe('tracker', () => {
  it('stop() removes every listener it added and never throws into the page afterwards', () => {
    html('<article data-attn-item="x"></article>');
    const added = new Map<string, number>();
    const spies = [window, document].flatMap((target) => {
      const add = target.addEventListener.bind(target);
      const remove = target.removeEventListener.bind(target);
      return [
        vi.spyOn(target, 'addEventListener').mockImplementation((type, fn, o) => {
          added.set(type, (added.get(type) ?? 0) + 1);
          add(type, fn, o);
        }),
        vi.spyOn(target, 'removeEventListener').mockImplementation((type, fn, o) => {
          added.set(type, (added.get(type) ?? 0) - 1);
          remove(type, fn, o);
        }),
      ];
    });
    const errors: unknown[] = [];
    const af = createAttention({ onError: (e) => errors.push(e) });
    expect([...added.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
    af.stop();
    spies.forEach((spy) => spy.mockRestore());
    const left = [...added].filter(([, n]) => n !== 0);
    expect(left).toEqual([]);
    document.dispatchEvent(new Event('scroll'));
    expect(errors).toEqual([]);
  });

  it('reports errors of its own callbacks through onError instead of throwing', () => {
    html('<article data-attn-item="x"></article>');
    const errors: unknown[] = [];
    const af = createAttention({ onError: (e) => errors.push(e) });
    af.on('attention', () => {
      throw new Error('listener bug');
    });
    expect(() => af.stop()).not.toThrow();
    expect(String(errors[0])).toContain('listener bug');
  });

  it("hands every reported error to 'error' listeners too (the script tag's onError); one that throws is not called again for its own error", () => {
    html('<article data-attn-item="x"></article>');
    const errors: unknown[] = [];
    const heard: unknown[] = [];
    const af = createAttention({ onError: (e) => errors.push(e) });
    af.on('error', (e) => {
      heard.push(e);
      throw new Error('error listener bug');
    });
    af.on('attention', () => {
      throw new Error('listener bug');
    });
    expect(() => af.stop()).not.toThrow();
    expect(heard.map(String)).toEqual(['Error: listener bug']);
    expect(errors.map(String)).toEqual(['Error: listener bug', 'Error: error listener bug']);
  });
});
