/** Adds a passive listener and returns the function that removes it. */
export function on<K extends string>(target: EventTarget, type: K, fn: (event: Event) => void): () => void {
  const opts: AddEventListenerOptions = { passive: true, capture: true };
  target.addEventListener(type, fn, opts);
  return () => target.removeEventListener(type, fn, opts);
}

/** Calls `fn` at most once, however often the returned function is called. */
export function runOnce<A extends unknown[]>(fn: (...args: A) => void): (...args: A) => void {
  let done = false;
  return (...args: A) => {
    if (done) return;
    done = true;
    fn(...args);
  };
}

/** Runs every teardown in `stops` once, newest first, and empties the list. */
export function stopAll(stops: Array<() => void>): void {
  while (stops.length) {
    const stop = stops.pop()!;
    try {
      stop();
    } catch {
      // A teardown that fails leaves nothing worse behind than one that did not run.
    }
  }
}
