// The script-tag build loads its chunks from the folder its own <script src> came from: script.ts
// sets it from its own tag before the tracker starts; without one, chunks resolve against the page.
let base = '';

/** Sets the folder (absolute URL ending in "/") the chunks are loaded from. */
export function setChunkBase(url: string): void {
  base = url;
}

/** Loads `file` from the script's folder as a native ES module. */
export function loadChunk<T>(file: string): Promise<T> {
  return import(/* webpackIgnore: true */ new URL(file, base || document.baseURI).href);
}
