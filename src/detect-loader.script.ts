import { loadChunk } from './chunk-url.script';

/** Loads item detection from the script's folder. */
export const loadDetect = (): Promise<typeof import('./capture/detect')> => loadChunk('attnflow-detect.js');
