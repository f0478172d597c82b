import type { LockManagerLike } from '../../../src/store/tabs';

/** A Web Locks stand-in: one holder per name, the rest wait in order. */
export function fakeLocks(): LockManagerLike {
  const queues = new Map<string, Array<() => void>>();
  return {
    request(name, cb) {
      return new Promise((resolve) => {
        const run = () => {
          cb().then(() => {
            const q = queues.get(name)!;
            q.shift();
            q[0]?.();
            resolve(undefined);
          });
        };
        const q = queues.get(name) ?? [];
        queues.set(name, q);
        q.push(run);
        if (q.length === 1) run();
      });
    },
  };
}
