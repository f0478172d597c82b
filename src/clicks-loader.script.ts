import { loadChunk } from './chunk-url.script';

/** Loads rage and dead click detection from the script's folder. */
export const loadClicks = (): Promise<typeof import('./capture/frustration')> => loadChunk('attnflow-clicks.js');
