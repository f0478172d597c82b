/**
 * The log as the rest of the SDK holds it: the core's handle (`log.ts`), whose IndexedDB part loads
 * as a chunk. A file of types only, so that code in other chunks can name the handle without
 * importing the core's loader.
 */
import type { AttentionExport, AttentionSnapshot, ViewReason } from '../types';
import type { Store } from './store';

export interface Log {
  /** Takes a cumulative snapshot of a view; 'hide' and 'end' are also copied to localStorage at once. */
  recordView(snapshot: AttentionSnapshot, reason?: ViewReason): void;
  /** Resolves when everything recorded so far is durable (or kept in memory where it cannot be). */
  flush(): Promise<void>;
  export(): Promise<AttentionExport>;
  /** Deletes the database, the copies and the memory; the view in progress is not recorded again. */
  forget(): Promise<void>;
  /** Consent: nothing is written, nor the chunk loaded, while closed. */
  allow(allowed: boolean): void;
  /** The IndexedDB log (for the model), undefined where its chunk cannot load. */
  ready(): Promise<Store | undefined>;
  stop(): void;
}
