import type * as Chunk from './debug-chunk';

/** Loads the debug overlay on first use; bundlers split it into its own file. */
export function loadDebugChunk(): Promise<typeof Chunk> {
  return import('./debug-chunk');
}
