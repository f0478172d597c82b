import type * as Chunk from './personalize-chunk';
import { loadChunk } from './chunk-url.script';

/** Loads the personalization chunk from the script's folder. */
export const loadPersonalizeChunk = (): Promise<typeof Chunk> => loadChunk('attnflow-personalize.js');
