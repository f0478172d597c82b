/** A minimal typed event emitter (in the spirit of mitt). Listener errors go to `onError`. */
export interface Emitter<Events extends Record<string, unknown>> {
  on<K extends keyof Events>(type: K, fn: (payload: Events[K]) => void): () => void;
  emit<K extends keyof Events>(type: K, payload: Events[K]): void;
  /** Whether `type` has a listener. */
  has(type: keyof Events): boolean;
  clear(): void;
}

export function createEmitter<Events extends Record<string, unknown>>(onError: (error: unknown, where: string) => void): Emitter<Events> {
  const all = new Map<keyof Events, Set<(payload: never) => void>>();
  return {
    on(type, fn) {
      let set = all.get(type);
      if (!set) all.set(type, (set = new Set()));
      set.add(fn as (payload: never) => void);
      return () => {
        set!.delete(fn as (payload: never) => void);
      };
    },
    emit(type, payload) {
      const set = all.get(type);
      if (!set) return;
      for (const fn of [...set]) {
        try {
          (fn as (p: typeof payload) => void)(payload);
        } catch (error) {
          onError(error, `listener for "${String(type)}"`);
        }
      }
    },
    has: (type) => !!all.get(type)?.size,
    clear() {
      all.clear();
    },
  };
}
