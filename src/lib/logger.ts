/** Debug logging, silent unless `debug` is on. */
export type Logger = (...args: unknown[]) => void;

export function createLogger(enabled: boolean): Logger {
  if (!enabled || typeof console === 'undefined') return () => {};
  return (...args) => console.debug('[attnflow]', ...args);
}
