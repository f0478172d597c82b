/**
 * Entry of the IndexedDB log chunk, loaded right after start-up: the store, its journal and
 * aggregates. Personalization shares its arithmetic (`store/derive.ts`) from this chunk.
 */
export * from '../store/store';
