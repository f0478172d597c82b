// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { applyOrder, findContainers, findVariantGroups, showVariant } from '../../../src/personalize/dom';
import { applyCachedOrder, CACHE_KEY } from '../../../src/personalize/early';

const ids = (sel: string) =>
  [...document.querySelectorAll(`${sel} > *`)].map(
    (e) => e.getAttribute('data-attn-item') ?? e.tagName.toLowerCase() + ((e as HTMLElement).hidden ? '!' : ''),
  );
const visible = (sel: string) =>
  [...document.querySelectorAll<HTMLElement>(`${sel} > [data-attn-item]`)]
    .filter((e) => !e.hidden)
    .map((e) => e.getAttribute('data-attn-item'));

beforeEach(() => {
  localStorage.clear();
  document.body.innerHTML = `
    <section id="c" data-attn-rank="news" data-attn-rank-limit="3">
      <h2>heading</h2>
      <article data-attn-item="a" data-attn-topics="Sport, football"></article>
      <article data-attn-item="b" data-attn-topics="politics"></article>
      <div class="wrap"><article data-attn-item="c"></article></div>
      <article data-attn-item="d"></article>
    </section>
    <div data-attn-variant="hero" data-attn-item="h1"></div>
    <div data-attn-variant="hero" data-attn-item="h2" hidden></div>`;
});

describe('personalization DOM adapters', () => {
  it('finds containers, their items (also wrapped ones) and lower-cased topics', () => {
    const [c] = findContainers(document);
    expect(c!.key).toBe('news');
    expect(c!.items.map((i) => [i.id, i.topics])).toEqual([
      ['a', ['sport', 'football']],
      ['b', ['politics']],
      ['c', []],
      ['d', []],
    ]);
    expect([...findVariantGroups(document).entries()].map(([g, alts]) => [g, alts.map((a) => a.id)])).toEqual([['hero', ['h1', 'h2']]]);
  });

  it('writes an order, keeps other children in their slot and hides what is cut', () => {
    const [c] = findContainers(document);
    expect(applyOrder(c!, ['d', 'c', 'a', 'b'], ['b'])).toBe(true);
    expect(ids('#c')).toEqual(['h2', 'd', 'div', 'a', 'b']);
    expect(visible('#c')).toEqual(['d', 'a']);
    expect((document.querySelector('.wrap') as HTMLElement).hidden).toBe(false);
    // Applying the same order again changes nothing.
    expect(applyOrder(c!, ['d', 'c', 'a', 'b'], ['b'])).toBe(false);
  });

  it('shows exactly one alternative of a group', () => {
    const alts = findVariantGroups(document).get('hero')!;
    expect(showVariant(alts, 'h2')).toBe(true);
    expect(alts.map((a) => (a.el as HTMLElement).hidden)).toEqual([true, false]);
    expect(showVariant(alts, 'nope')).toBe(false);
  });

  it('the synchronous path applies the cached order before first paint and remembers the page order', () => {
    localStorage.setItem(CACHE_KEY, JSON.stringify({ c: { news: ['d', 'b', 'a'] }, v: { hero: 'h2' } }));
    const original = new WeakMap<Element, string[]>();
    applyCachedOrder(document, original);
    expect(original.get(document.getElementById('c')!)).toEqual(['a', 'b', 'c', 'd']);
    expect(visible('#c')).toEqual(['d', 'b', 'a']);
    expect((document.querySelector('.wrap') as HTMLElement).hidden).toBe(true);
    expect(document.getElementById('c')!.classList.contains('attn-personalized')).toBe(true);
    expect([...document.querySelectorAll<HTMLElement>('[data-attn-variant]')].map((e) => e.hidden)).toEqual([true, false]);
  });

  it('the synchronous path leaves a held-out page in its own order, the page order still remembered', () => {
    localStorage.setItem(CACHE_KEY, JSON.stringify({ c: { news: ['d', 'b', 'a'] }, v: { hero: 'h2' } }));
    const original = new WeakMap<Element, string[]>();
    applyCachedOrder(document, original, true);
    expect(original.get(document.getElementById('c')!)).toEqual(['a', 'b', 'c', 'd']);
    expect(ids('#c')).toEqual(['h2', 'a', 'b', 'div', 'd']);
    expect(document.getElementById('c')!.classList.contains('attn-personalized')).toBe(false);
    expect([...document.querySelectorAll<HTMLElement>('[data-attn-variant]')].map((e) => e.hidden)).toEqual([false, true]);
  });

  it('the synchronous path leaves the page alone without a cache or with a broken one', () => {
    applyCachedOrder(document, new WeakMap());
    expect(visible('#c')).toEqual(['a', 'b', 'd']);
    localStorage.setItem(CACHE_KEY, '{broken');
    applyCachedOrder(document, new WeakMap());
    expect(ids('#c')).toEqual(['h2', 'a', 'b', 'div', 'd']);
  });
});
