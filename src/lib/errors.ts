/** Thrown at start-up when the integrator passes an option the SDK cannot use. */
export class AttnflowConfigError extends Error {
  override name = 'AttnflowConfigError';
}

/**
 * Reported through `onError` (never thrown) when a tfjs backend cannot run here and the model
 * falls back to the next one: `backend` failed, `reason` says why, the model runs on `usedInstead`.
 */
export class AttnflowBackendError extends Error {
  override name = 'AttnflowBackendError';
  constructor(
    readonly backend: string,
    readonly reason: string,
    readonly usedInstead: string,
  ) {
    super(`attnflow: the ${backend} backend cannot run here (${reason}); the model runs on ${usedInstead}`);
  }
}

/** Builds the message "<what>: expected <expected>, received <received>". */
export function describe(what: string, expected: string, received: unknown): string {
  let shown: string;
  try {
    shown = typeof received === 'string' ? JSON.stringify(received) : String(received);
  } catch {
    shown = typeof received;
  }
  return `attnflow: ${what}: expected ${expected}, received ${shown}`;
}

/** A sink for errors that happen after start-up: they are reported, never thrown into the page. */
export type ErrorSink = (error: unknown, where: string) => void;

/** Wraps `fn` so that anything it throws goes to `report` instead of the caller. */
export function guard<A extends unknown[], R>(report: ErrorSink, where: string, fn: (...args: A) => R): (...args: A) => R | undefined {
  return (...args: A) => {
    try {
      return fn(...args);
    } catch (error) {
      report(error, where);
      return undefined;
    }
  };
}
