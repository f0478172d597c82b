import type * as Chunk from './capture-chunk';

/** Loads rage and dead click detection and the media observer right after start-up; bundlers split it into its own file. */
export function loadCapture(): Promise<typeof Chunk> {
  return import('./capture-chunk');
}
