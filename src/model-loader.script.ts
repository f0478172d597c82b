import type { ModelChunk } from './model-chunk';

// The script-tag build loads the model chunk from the folder its own <script src> came from.
let base = '';

/** Sets the folder (absolute URL ending in "/") the model chunk is loaded from. */
export function setChunkBase(url: string): void {
  base = url;
}

/** Loads the model chunk (tfjs + model) on first use, as a native ES module. */
export function loadModelChunk(): Promise<ModelChunk> {
  const url = new URL('attnflow-model.js', base || document.baseURI).href;
  return import(/* webpackIgnore: true */ url);
}
