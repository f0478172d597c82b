/**
 * The database: opening it, with its fallbacks, and deleting it. An upgrade that an older version
 * in another tab blocks leaves the log in memory until that tab lets go; a newer version that
 * takes over in another tab, or storage that throws, leaves it in memory for good; a deletion by
 * another tab (forget, consent withdrawn) drops what this tab holds. Views a closed tab left behind
 * are written as it opens (`recover.ts`).
 */
import { deleteDB, openDB } from 'idb';
import { recover } from './recover';
import { DB_NAME, DB_VERSION, migrate, type AttnflowDB } from './schema';
import { close, warn, wipe, type Db, type State } from './state';

/** Opens the database once; undefined where the log stays in memory. Never rejects. */
export const open = (c: State): Promise<Db | undefined> =>
  (c.opening ??= new Promise<Db | undefined>((resolve) => {
    let blocked = false;
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
          close(c);
          if (next) {
            c.dead = c.inMemory = true;
            c.o.log('a newer version in another tab took over the database: the log is kept in memory');
          } else wipe(c); // Another tab deleted it: forget() or consent withdrawn.
        },
        terminated: () => close(c),
      }).then(
        (d) => {
          if (!c.allowed || c.dead) return (d.close(), resolve(undefined));
          c.db = d;
          c.inMemory = false;
          recover(c, d).then(() => {
            resolve(d);
            if (blocked) void c.flush();
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
