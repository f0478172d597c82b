// The script-tag build loads its chunks from the folder its own <script src> came from. The IIFE
// evaluates this while that script runs; script.ts corrects it when another loader ran us.
const own = typeof document !== 'undefined' ? document.currentScript : null;
let base = own instanceof HTMLScriptElement && own.src ? own.src : '';

/** Sets the folder (absolute URL ending in "/") the chunks are loaded from. */
export function setChunkBase(url: string): void {
  base = url;
}

/** Loads `file` from the script's folder as a native ES module. */
export function loadChunk<T>(file: string): Promise<T> {
  return import(/* webpackIgnore: true */ new URL(file, base || document.baseURI).href);
}
