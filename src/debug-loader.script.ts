import type * as Chunk from './debug-chunk';

// The IIFE evaluates this while its own <script> runs: remember the folder it came from.
const own = typeof document !== 'undefined' ? document.currentScript : null;
const base = own instanceof HTMLScriptElement && own.src ? own.src : '';

/** Loads the debug overlay from the folder the script tag came from, as a native ES module. */
export function loadDebugChunk(): Promise<typeof Chunk> {
  return import(/* webpackIgnore: true */ new URL('attnflow-debug.js', base || document.baseURI).href);
}
