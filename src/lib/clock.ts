/** Time source of the SDK; tests pass a fake one. */
export interface Clock {
  /** Monotonic milliseconds (performance.now in browsers). */
  now(): number;
  /** Wall-clock epoch milliseconds. */
  epoch(): number;
}

export const systemClock: Clock = {
  now: () => (typeof performance !== 'undefined' ? performance.now() : Date.now()),
  epoch: () => Date.now(),
};
