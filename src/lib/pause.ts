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

/** A part of sliced work that ran longer than this (ms) says the machine is busy. */
const BUSY_MS = 4;
/** The longest the next part waits after a busy one (ms). */
const BACK_OFF_MS = 100;

/** Options of `pacer`. */
export interface PaceOptions {
  /** How many times a busy part's own time the next part waits; default 1. */
  backOff?: number;
  /**
   * The fastest time of each part (by its place in the work) in earlier runs of the same work,
   * kept by the caller and updated here: a part then counts as busy only when it also took more
   * than twice its fastest, so work whose parts are long by nature is not slowed once it is warm.
   */
  best?: number[];
  /** The clock (ms). */
  now?: () => number;
}

/**
 * The pause between parts of work sliced for the page's main thread, backing off when the
 * machine is busy. A part that usually takes a few ms can take many times that while the browser
 * compiles the model's code on its background threads (the first calls and training steps of a
 * page view) or collects garbage: on a machine with few cores those threads take turns with the
 * page's, and the next part, run at once, would stretch into a long task as well. After a busy
 * part (longer than `BUSY_MS`, and than twice its `best`) the next one waits `backOff` times as
 * long (at most `BACK_OFF_MS`), so the background work ends while the page is idle: work nobody
 * waits for (training) backs off more than work the page waits for (loading, scoring). Elsewhere
 * (a worker, a hidden page, whose timers are throttled to once a second) it is `pause()`.
 * Returns the function to await between parts; the first part is timed from this call.
 */
export function pacer(options: PaceOptions = {}): () => Promise<void> {
  const { backOff = 1, best, now = () => performance.now() } = options;
  let since = now();
  let part = 0;
  return async () => {
    const took = now() - since;
    const fastest = best?.[part];
    if (best && (fastest === undefined || took < fastest)) best[part] = took;
    part++;
    const busy = took > BUSY_MS && (fastest === undefined || took > 2 * fastest);
    const page = (globalThis as { document?: { visibilityState?: string } }).document;
    if (busy && page?.visibilityState === 'visible')
      await new Promise((resolve) => setTimeout(resolve, Math.min(backOff * took, BACK_OFF_MS)));
    else await pause();
    since = now();
  };
}

/** Runs work cut into parts (a generator that yields between them) to its end at once. */
export function runParts<T>(parts: Generator<void, T, void>): T {
  let r = parts.next();
  while (!r.done) r = parts.next();
  return r.value;
}

/**
 * Runs work cut into parts to its end, a task per part (`pacer(options)` between them). When `alive()`
 * turns false in a pause (what the work runs on was disposed), the work is ended there (its
 * `finally` blocks run) and the promise rejects.
 */
export async function runSliced<T>(parts: Generator<void, T, void>, alive: () => boolean = () => true, options?: PaceOptions): Promise<T> {
  const pace = pacer(options);
  let r = parts.next();
  while (!r.done) {
    await pace();
    if (!alive()) {
      parts.return(undefined as T);
      throw new Error('attnflow: the model was disposed');
    }
    r = parts.next();
  }
  return r.value;
}

/**
 * Runs work cut into parts to its end: parts back to back while the task they run in is younger
 * than `budgetMs`, then a pause (`pacer()`). Work that is quick once the browser has compiled its
 * code stays in one task; the first runs, while it has not, are cut where they run long. When
 * `alive()` turns false in a pause, the work is ended there and the promise rejects.
 */
export async function runWithin<T>(parts: Generator<void, T, void>, budgetMs: number, alive: () => boolean = () => true): Promise<T> {
  const pace = pacer();
  let start = performance.now();
  let r = parts.next();
  while (!r.done) {
    if (performance.now() - start >= budgetMs) {
      await pace();
      if (!alive()) {
        parts.return(undefined as T);
        throw new Error('attnflow: the model was disposed');
      }
      start = performance.now();
    }
    r = parts.next();
  }
  return r.value;
}
