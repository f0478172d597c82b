/**
 * The script tag's chunk loader (rollup swaps it in for `load.ts` in every script-tag build): a
 * chunk is `attnflow-<name>.js` in the folder the script's own `<script src>` came from, loaded as
 * a native ES module. script.ts sets that folder from its tag before the tracker starts; without
 * one, chunks resolve against the page. Chunks that load others (personalization: the model and
 * the overlay) are lent this loader by the core: nothing inside a chunk imports it.
 */
import type { Chunks } from './load';

let base = '';

/** Sets the folder (absolute URL ending in "/") the chunks are loaded from. */
export function setChunkBase(url: string): void {
  base = url;
}

/** Loads chunk `name` from the script's folder. */
export function loadChunk<K extends keyof Chunks>(name: K): Promise<Chunks[K]> {
  return import(/* webpackIgnore: true */ new URL(`attnflow-${name}.js`, base || document.baseURI).href);
}
