import type { ModelChunk } from './model-chunk';

/** Loads the model chunk (tfjs + model) on first use; bundlers split it into its own file. */
export function loadModelChunk(): Promise<ModelChunk> {
  return import('./model-chunk');
}

/** Where the chunk lives; only the script-tag build needs it. */
export function setChunkBase(_url: string): void {}
