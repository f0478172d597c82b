import type { ModelChunk } from './model-chunk';
import { loadChunk } from './chunk-url.script';

export { setChunkBase } from './chunk-url.script';

/** Loads the model chunk (tfjs + model) on first use, from the script's folder. */
export const loadModelChunk = (): Promise<ModelChunk> => loadChunk('attnflow-model.js');
