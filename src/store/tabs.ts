/**
 * Coordination between tabs of one site: a leader (Web Locks; a localStorage lease where the
 * browser lacks them) and a BroadcastChannel for change notices. Touches no browser API until
 * called; where neither exists, the one tab is its own leader.
 */

/** The subset of the Web Locks API used here. */
export interface LockManagerLike {
  request(name: string, callback: () => Promise<void>): Promise<unknown>;
}

export interface Tabs {
  /** Sends `kind` to the other tabs. */
  post(kind: string): void;
  /** Whether this tab is the leader now. */
  isLeader(): boolean;
  /** Calls `cb` when this tab becomes the leader (at once if it is); returns the unsubscriber. */
  onLeader(cb: () => void): () => void;
  /** Leaves the election and closes the channel. */
  close(): void;
}

/** A leader's lease in the fallback lasts this long unless renewed, ms. */
export const LEASE_MS = 6000;

export function createTabs(
  name: string,
  onMessage: (kind: string) => void,
  locks: LockManagerLike | undefined = typeof navigator !== 'undefined' ? navigator.locks : undefined,
  storage: () => Storage | undefined = () => localStorage,
): Tabs {
  let leader = false;
  let closed = false;
  let release = () => {};
  let timer: ReturnType<typeof setInterval> | undefined;
  const cbs = new Set<() => void>();
  const become = () => {
    if (leader || closed) return;
    leader = true;
    for (const cb of [...cbs]) cb();
  };

  let channel: BroadcastChannel | undefined;
  try {
    channel = new BroadcastChannel(name);
    channel.onmessage = (e) => onMessage(String(e.data));
  } catch {
    // No BroadcastChannel: other tabs learn of changes when they next read.
  }

  const key = `${name}:leader`;
  const me = Math.random().toString(36).slice(2);
  if (locks) {
    // Held until close() or until the page goes away; the next tab in line gets it then.
    locks.request(key, () => (closed ? Promise.resolve() : (become(), new Promise<void>((r) => (release = r))))).catch(() => {});
  } else {
    const tick = () => {
      try {
        const s = storage()!;
        const [id, until] = (s.getItem(key) ?? '').split(' ');
        if (id === me || !(Number(until) > Date.now())) {
          s.setItem(key, `${me} ${Date.now() + LEASE_MS}`);
          become();
        } else leader = false;
      } catch {
        // No storage (sandboxed frame): nobody else can be elected either.
        become();
      }
    };
    tick();
    timer = setInterval(tick, LEASE_MS / 3);
    release = () => {
      try {
        if (leader) storage()!.removeItem(key);
      } catch {
        // Nothing to release.
      }
    };
  }

  return {
    post(kind) {
      try {
        channel?.postMessage(kind);
      } catch {
        // A channel that closed meanwhile: the other tabs will read the change later.
      }
    },
    isLeader: () => leader,
    onLeader(cb) {
      cbs.add(cb);
      if (leader) cb();
      return () => cbs.delete(cb);
    },
    close() {
      if (closed) return;
      clearInterval(timer);
      release();
      closed = true;
      leader = false;
      channel?.close();
      channel = undefined;
    },
  };
}
