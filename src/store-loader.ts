/** Loads the IndexedDB log right after start-up; bundlers split it into its own file. */
export function loadStoreChunk(): Promise<typeof import('./store/store')> {
  return import('./store/store');
}
