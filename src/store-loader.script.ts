import { loadChunk } from './chunk-url.script';

/** Loads the IndexedDB log from the script's folder. */
export const loadStoreChunk = (): Promise<typeof import('./store/store')> => loadChunk('attnflow-store.js');
