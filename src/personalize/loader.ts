/**
 * What personalization loads and lends: the core's chunk loader as it uses it (the model and the
 * debug overlay), and the hook the overlay plugs into. The core lends its loader (`chunks/load.ts`);
 * code inside a chunk never imports it. The overlay imports these types, nothing else of
 * personalization.
 */
import type { ModelChunk } from '../engine/chunk';
import type { AttentionSnapshot } from '../types';
import type { Explanation, PersonalizeReport } from './types';

/** What the debug overlay reads of personalization: the last decision, and why an item is where it is. */
export interface OverlayPersonalization {
  last(): PersonalizeReport | undefined;
  explain(itemId: string): Promise<Explanation | undefined>;
}

/**
 * The hook the debug overlay plugs into: what the page lends it. The overlay is a chunk of its own
 * (`chunks/debug.ts`); it imports nothing of personalization but these types.
 */
export interface OverlayHost {
  root: ParentNode;
  snapshot(): AttentionSnapshot;
  onSnapshot(fn: (s: AttentionSnapshot) => void): () => void;
  personalizer(): Promise<OverlayPersonalization | undefined>;
  modelState?: (() => unknown) | undefined;
  report(error: unknown, where: string): void;
  /** The items the tracker measures and their elements: several for a headed block of a flat page. */
  items?: (() => ReadonlyMap<string, readonly [Element[], ...unknown[]]>) | undefined;
}

/** The core's chunk loader, as personalization uses it. */
export interface ChunkLoader {
  (name: 'model'): Promise<ModelChunk>;
  (name: 'debug'): Promise<{ mountOverlay(host: OverlayHost): () => void }>;
}
