/**
 * The database: opening it, with its fallbacks, and deleting it. An upgrade that an older version
 * in another tab blocks leaves the log in memory until that tab lets go; a newer version that
 * takes over in another tab, or storage that throws, leaves it in memory for good; a deletion by
 * another tab (forget, consent withdrawn) drops what this tab holds. A database that opens but does
 * not answer (a page of the site left in the back/forward cache mid-transaction holds its stores:
 * WebKit keeps such a transaction, and everything queued behind it, until that page is restored or
 * evicted) leaves the log in memory until it answers, then everything is written to it. Views a
 * closed tab left behind are written as it opens (`recover.ts`).
 */
import { deleteDB, openDB, unwrap } from 'idb';
import { recover } from './recover';
import { DB_NAME, DB_VERSION, migrate, type AttnflowDB } from './schema';
import { close, warn, wipe, type Db, type State } from './state';

/** How long a database that opened may take to answer a read of every store, ms, before the log goes to memory. */
export const ANSWER_MS = 3000;

/** Resolves when a read of every store of `d` completes (or fails): nothing holds them any more. */
const answers = (d: Db): Promise<void> =>
  new Promise<void>((resolve) => {
    try {
      const tx = d.transaction([...d.objectStoreNames], 'readonly');
      tx.done.then(resolve, () => resolve());
    } catch {
      // The connection went away: its next use reopens it.
      resolve();
    }
  });

/** Keeps every transaction on `d` in `c.live` until it completes or aborts (for `freeze`). */
const track = (c: State, d: Db): void => {
  const raw = unwrap(d) as IDBDatabase;
  const transaction = raw.transaction;
  raw.transaction = function (this: IDBDatabase, ...args: Parameters<IDBDatabase['transaction']>) {
    const tx = transaction.apply(this, args);
    const end = () => {
      c.live.delete(tx);
      tx.removeEventListener('complete', end);
      tx.removeEventListener('abort', end);
    };
    c.live.add(tx);
    tx.addEventListener('complete', end);
    tx.addEventListener('abort', end);
    return tx;
  };
};

/** Opens the database once; undefined where the log stays in memory. Never rejects. */
export const open = (c: State): Promise<Db | undefined> =>
  (c.opening ??= new Promise<Db | undefined>((resolve) => {
    let blocked = false;
    // The connection while it is not yet the store's (`c.db`): let go with it.
    let pending: Db | undefined;
    const fail = (error: unknown) => {
      warn(c, error, 'open');
      c.inMemory = true;
      c.o.log('IndexedDB unavailable: the log is kept in memory');
      resolve(undefined);
    };
    try {
      if (c.dead) return resolve(undefined);
      openDB<AttnflowDB>(c.o.name ?? DB_NAME, DB_VERSION, {
        upgrade(d, from, _to, tx) {
          // An aborted upgrade is reported below and by the open failing: not as an unhandled rejection.
          tx.done.catch(() => {});
          migrate(d, from, DB_VERSION, tx).catch((error) => {
            warn(c, error, 'upgrade');
            tx.abort();
          });
        },
        blocked() {
          // An older version in another tab does not let go: carry on in memory, and write it
          // all to the database if it ever does.
          blocked = true;
          fail(new Error('attnflow: IndexedDB upgrade blocked by an older version in another tab'));
        },
        blocking(_now, next) {
          pending?.close();
          pending = undefined;
          close(c);
          if (next) {
            c.dead = c.inMemory = true;
            c.o.log('a newer version in another tab took over the database: the log is kept in memory');
          } else wipe(c); // Another tab deleted it: forget() or consent withdrawn.
        },
        terminated: () => {
          pending = undefined;
          close(c);
        },
      }).then(
        (d) => {
          if (!c.allowed || c.dead) return (d.close(), resolve(undefined));
          pending = d;
          const wait = setTimeout(() => {
            c.inMemory = c.waiting = true;
            c.o.log('IndexedDB does not answer (another page holds it): the log is kept in memory until it does');
            resolve(undefined);
          }, c.o.answerMs ?? ANSWER_MS);
          answers(d).then(() => {
            clearTimeout(wait);
            const waited = c.waiting;
            c.waiting = false;
            // Let go meanwhile (another tab deleted it, a newer version took over, consent withdrawn).
            if (pending !== d || !c.allowed || c.dead) {
              if (pending === d) d.close();
              pending = undefined;
              return resolve(undefined);
            }
            pending = undefined;
            track(c, d);
            c.db = d;
            c.inMemory = false;
            if (waited) c.o.log('IndexedDB answers again: writing the log kept in memory');
            recover(c, d).then(() => {
              resolve(d);
              if (blocked || waited) void c.flush();
            });
          });
        },
        (error) => {
          c.dead = true;
          fail(error);
        },
      );
    } catch (error) {
      c.dead = true;
      fail(error);
    }
  }));

/** The open database, or undefined in memory mode or while the gate is closed. */
export const getDb = (c: State): Promise<Db | undefined> =>
  c.allowed ? (c.db ? Promise.resolve(c.db) : open(c)) : Promise.resolve(undefined);

/** Deletes the database and all in-memory state; the views in progress are not recorded again. */
export const forget = async (c: State): Promise<void> => {
  wipe(c);
  close(c);
  await new Promise<void>((resolve) => {
    try {
      // Blocked: a tab that ignores versionchange still holds it; deletion completes when it closes.
      deleteDB(c.o.name ?? DB_NAME, { blocked: resolve as () => void }).then(resolve, (error) => (warn(c, error, 'forget'), resolve()));
    } catch {
      // No IndexedDB: nothing to delete.
      resolve();
    }
  });
};
