// @vitest-environment happy-dom
/**
 * Flat documents and topics without markup: headed blocks (which heading starts one, where it ends,
 * what is left out) and where topics come from. Layout (the split of tall blocks) is a browser
 * matter: test/e2e/capture-flat.spec.ts.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { blockId, contentRoot, detectBlocks, pathTopic, scan, topicToken, topicsOf } from '../../../src/capture/detect';

afterEach(() => {
  document.head.replaceChildren();
  document.body.replaceChildren();
});

const html = (s: string, head = '') => {
  document.head.innerHTML = head;
  document.body.innerHTML = s;
};

/** A fixture page's body and head, without its scripts. */
const fixture = (name: string) => {
  const src = readFileSync(`test/fixtures/${name}.html`, 'utf8').replace(/<script[^>]*src=[^>]*><\/script>/g, '');
  html(/<body>([\s\S]*)<\/body>/.exec(src)![1]!, /<head>([\s\S]*)<\/head>/.exec(src)![1]!);
};

const ids = () => scan(document, new WeakMap(), new Set()).map((f) => f[1]);

describe('headed blocks', () => {
  it('a heading and the siblings after it, up to the next heading of its level or higher; the lead before the first', () => {
    html(
      `<main><h1>T</h1><p>lead</p><h2 id="a">A</h2><p>1</p><h3 id="a1">A1</h3><p>2</p><h2 id="b">B</h2><p>3</p><ul><li>x</li></ul></main>`,
    );
    const blocks = detectBlocks(document).map((b) => b.map((e) => e.localName + (e.id ? `#${e.id}` : '')).join(' '));
    // Not taller than two viewports (no layout here): h3 stays inside its h2's block.
    expect(blocks).toEqual(['h1 p', 'h2#a p h3#a1 p', 'h2#b p ul']);
    expect(detectBlocks(document).map(blockId)).toEqual(['h1:/main/h1', 'h2#a', 'h2#b']);
  });

  it('takes the top level present: h3 blocks on a page whose headings start at h3; h5 and h6 start none', () => {
    html(`<div class="post"><p>lead</p><h3>A</h3><p>1</p><h5>x</h5><p>2</p><h3>B</h3><p>3</p></div>`);
    expect(detectBlocks(document).map((b) => b.length)).toEqual([1, 4, 2]);
  });

  it('ids from the heading id, an anchor in it or its place; never from its text', () => {
    html(`<main><h2>Intro text<a class="headerlink" href="#install">¶</a></h2><p>1</p><h2><a name="usage"></a>Usage words</h2><p>2</p>
      <h2><span id="faq">FAQ</span></h2><p>3</p><h2>Plain heading</h2><p>4</p><h2>Plain heading</h2><p>5</p></main>`);
    expect(ids()).toEqual(['h2#install', 'h2#usage', 'h2#faq', 'h2:/main/h24', 'h2:/main/h25']);
  });

  it('headings wrapped with their edit links (<div><h2/><span>edit</span></div>) start blocks like bare ones', () => {
    html(`<main><div class="mw-heading"><h2 id="History">History</h2><span><a href="?action=edit">edit</a></span></div><p>1</p><p>2</p>
      <div class="mw-heading"><h2 id="Economy">Economy</h2></div><p>3</p></main>`);
    expect(ids()).toEqual(['h2#History', 'h2#Economy']);
    expect(detectBlocks(document)[0]!.length).toBe(3);
  });

  it('leaves out navigation, contents, sidebars, footers, link lists and headings with nothing after them', () => {
    html(`<nav><h2>Menu</h2><p>m</p></nav><main>
      <div id="toc" role="navigation"><h2>Contents</h2><ul><li><a href="#a">A</a></li></ul></div>
      <h2 id="a">A</h2><p>text of a section</p><aside><h3>Related</h3><p>r</p></aside>
      <h2 id="links">See also</h2><ul><li><a href="/x">X things</a></li><li><a href="/y">Y things</a></li></ul>
      <h2 id="empty">Empty</h2></main><footer><h2>About</h2><p>f</p></footer>`);
    expect(ids()).toEqual(['h2#a']);
    // The contents box and the aside are not part of the block either.
    expect(detectBlocks(document)[0]!.map((e) => e.localName)).toEqual(['h2', 'p']);
  });

  it('prefers the main content: main, [role=main], else the element with the most paragraph text', () => {
    html(`<div class="side"><p>short</p></div><div class="article"><p>${'long text '.repeat(40)}</p><p>more</p></div>`);
    expect(contentRoot().className).toBe('article');
    html(`<div role="main" id="m"><p>x</p></div><div><p>${'long '.repeat(90)}</p></div>`);
    expect(contentRoot().id).toBe('m');
  });

  it('sections, articles and cards stay single items; their own first headings start no block', () => {
    html(`<main><section id="s"><h2>S</h2><p>1</p><h3>S1</h3><p>2</p></section><article id="a"><h2>A</h2><p>3</p></article></main>`);
    expect(ids()).toEqual(['section#s', 'article#a']);
  });

  it.each(['flat-encyclopedia', 'flat-technical', 'flat-blog', 'flat-docs'])(
    '%s: ≥ 3 blocks, the same ids on a second load, none from navigation',
    (name) => {
      fixture(name);
      const first = ids();
      fixture(name);
      expect(ids()).toEqual(first);
      expect(first.filter((id) => !id.startsWith('figure')).length).toBeGreaterThanOrEqual(3);
      const expected = new Set(
        [...document.querySelectorAll<HTMLElement>('[data-truth],[data-truth-also]')].map((e) => e.dataset.truthAlso ?? e.dataset.truth),
      );
      // Without layout no block splits: every id found is one the fixture expects.
      for (const id of first) expect(expected.has(id), id).toBe(true);
    },
  );
});

describe('topics without markup', () => {
  it('normalises tokens: lower case, no accents, words joined by -, short', () => {
    expect(topicToken('Économie & Finance')).toBe('economie-finance');
    expect(topicToken('  Rust ')).toBe('rust');
    expect(topicToken('2026')).toBe('');
    expect(topicToken('a very long keyword phrase with many words')).toBe('');
  });

  it('the first meaningful segment of a path: no numbers, dates, ids, slugs, languages or page types', () => {
    expect(pathTopic('/sport/football/2026/12/06/derby-report-123')).toBe('sport');
    expect(pathTopic('/en/news/world-europe-6712')).toBe('news');
    expect(pathTopic('/2026/12/06/why-we-moved-to-folios/')).toBe('');
    expect(pathTopic('/articles/c4g5x2e1/')).toBe('');
    expect(pathTopic('/category/rust/async-in-depth')).toBe('rust');
    expect(pathTopic('/p/index.html')).toBe('');
  });

  it('data-attn-topics first, and then nothing else', () => {
    html(
      `<div data-attn-topics="Local, weather"><div id="c"><a href="/sport/x-1">s</a><a rel="tag" href="/tags/rain">rain</a></div></div>`,
    );
    expect(topicsOf([document.getElementById('c')!])).toEqual([
      ['Local', 'markup'],
      ['weather', 'markup'],
    ]);
  });

  it('rel=tag links (the last segment of their path), then the section in the path of the item own link', () => {
    html(
      `<div id="c"><a href="/sport/football/2026/derby">Derby</a> <a rel="tag" href="/tags/Derby%20Day/">Derby words</a> <a rel="tag nofollow" href="/t/rain">wet</a></div>`,
    );
    const el = document.getElementById('c')!;
    expect(topicsOf([el], el.querySelector('a'))).toEqual([
      ['derby-day', 'tag'],
      ['rain', 'tag'],
      ['sport', 'link'],
    ]);
  });

  it("the page's metadata goes to its main item only", () => {
    html(
      `<main><h1 id="t">Title words</h1><p>lead</p><h2 id="a">A</h2><p>1</p></main>`,
      `<meta property="article:section" content="Science"><meta property="article:tag" content="Space Flight">
       <script type="application/ld+json">{"@graph":[{"@type":"NewsArticle","articleSection":["Science","Tech"],"keywords":"orbits, Mars"}]}</script>
       <meta name="keywords" content="rockets">`,
    );
    const found = scan(document, new WeakMap(), new Set());
    expect(found.map((f) => [f[1], f[2]])).toEqual([
      ['h1#t', ['science', 'tech', 'space-flight', 'orbits', 'mars', 'rockets']],
      ['h2#a', []],
    ]);
  });

  it('never from visible text: an item with words and no links, tags or metadata has no topics', () => {
    html(`<main><h2 id="a">Football transfer news</h2><p>Sport politics science weather</p><h2 id="b">More</h2><p>Economy</p></main>`);
    expect(scan(document, new WeakMap(), new Set()).map((f) => f[2])).toEqual([[], []]);
  });

  it('links to other sites and to the page itself give no topic', () => {
    html(`<div id="c"><a href="https://other.example/sport/x">x</a></div>`);
    const el = document.getElementById('c')!;
    expect(topicsOf([el], el.querySelector('a'))).toEqual([]);
  });
});
