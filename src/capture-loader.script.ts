import type * as Chunk from './capture-chunk';
import { loadChunk } from './chunk-url.script';

/** Loads rage and dead click detection and the media observer from the script's folder. */
export const loadCapture = (): Promise<typeof Chunk> => loadChunk('attnflow-capture.js');
