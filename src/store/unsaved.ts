/**
 * Views not yet durable in IndexedDB, kept in localStorage: written synchronously when a page
 * hides or a view ends (log.ts), removed once IndexedDB has them, and written to IndexedDB by the
 * next page of the site when a tab closed first (store.ts). Key: `<db name>:unsaved:<viewId>`,
 * value: `{ at, s }`, the epoch ms and the cumulative snapshot of that moment.
 */
export const unsavedPrefix = (name: string): string => `${name}:unsaved:`;

/** Runs `fn` with localStorage; where there is none (sandboxed frame, storage disabled), nothing happens. */
export function withLocalStorage(fn: (ls: Storage) => void): void {
  try {
    fn(localStorage);
  } catch {
    // IndexedDB alone.
  }
}
