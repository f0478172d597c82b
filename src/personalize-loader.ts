import type * as Chunk from './personalize-chunk';

/** Loads the personalization chunk on first use; bundlers split it into its own file. */
export function loadPersonalizeChunk(): Promise<typeof Chunk> {
  return import('./personalize-chunk');
}
