/**
 * Lets other tasks run: a task of its own, so the page can paint and handle input in between.
 * Without `scheduler.postTask`, a message to itself: timers are throttled in hidden tabs, to once
 * a second or less, which would stretch a model's start to many seconds there.
 */
export function pause(): Promise<void> {
  const s = (globalThis as { scheduler?: { postTask?: (cb: () => void) => Promise<void> } }).scheduler;
  if (s?.postTask) return s.postTask(() => {});
  if (typeof MessageChannel === 'undefined') return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/** Runs work cut into parts (a generator that yields between them) to its end at once. */
export function runParts<T>(parts: Generator<void, T, void>): T {
  let r = parts.next();
  while (!r.done) r = parts.next();
  return r.value;
}

/**
 * Runs work cut into parts to its end, a task per part (`pause()` between them). When `alive()`
 * turns false in a pause (what the work runs on was disposed), the work is ended there (its
 * `finally` blocks run) and the promise rejects.
 */
export async function runSliced<T>(parts: Generator<void, T, void>, alive: () => boolean = () => true): Promise<T> {
  let r = parts.next();
  while (!r.done) {
    await pause();
    if (!alive()) {
      parts.return(undefined as T);
      throw new Error('attnflow: the model was disposed');
    }
    r = parts.next();
  }
  return r.value;
}
