import type * as Chunk from './personalize-chunk';

// The IIFE evaluates this while its own <script> runs: remember the folder it came from.
const own = typeof document !== 'undefined' ? document.currentScript : null;
const base = own instanceof HTMLScriptElement && own.src ? own.src : '';

/** Loads the personalization chunk from the folder the script tag came from, as a native ES module. */
export function loadPersonalizeChunk(): Promise<typeof Chunk> {
  return import(/* webpackIgnore: true */ new URL('attnflow-personalize.js', base || document.baseURI).href);
}
