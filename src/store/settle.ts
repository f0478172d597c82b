/**
 * Folding the journal into the aggregates (the catalogue and the profile, `aggregates.ts`) after
 * the writes that journalled their changes: one fold at a time.
 */
import { foldSome } from './aggregates';
import { close, warn, type State } from './state';

/**
 * Resolves when every change journalled so far is in the aggregates. Never rejects. One fold at a
 * time; a call while one runs queues one more, which picks up what came meanwhile.
 */
export const settle = (c: State): Promise<void> =>
  (c.queued ??= c.folds =
    c.folds.then(async () => {
      c.queued = undefined;
      const d = c.db;
      try {
        while (d && c.db === d && c.allowed && (await foldSome(d, () => c.o.clock.epoch())));
      } catch (error) {
        // A connection closed under us (another tab, the browser): the next write reopens it, and
        // the journal is folded then.
        if ((error as Error)?.name === 'InvalidStateError') c.db === d && close(c);
        else warn(c, error, 'fold');
      }
    }));
