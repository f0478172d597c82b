/**
 * The model Worker: scoring and training off the main thread. WebGL works here through
 * OffscreenCanvas, so the page never waits on shader compiles or GPU reads.
 */
import { Engine } from '../engine/engine';
import { transferables, unpacker, type EngineRequest, type EngineResponse } from '../engine/messages';

const engine = new Engine();
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<EngineRequest>) => void) | null;
  postMessage(message: EngineResponse, transfer?: Transferable[]): void;
};

// Requests run one after another: the engine is not re-entrant.
let queue: Promise<void> = Promise.resolve();
const unpack = unpacker();

scope.onmessage = (event) => {
  const { id, op } = event.data;
  let args: unknown[];
  try {
    args = unpack(op, event.data.args);
  } catch {
    scope.postMessage({ id, ok: false, error: { name: 'Error', message: `attnflow: unreadable arguments of "${op}"` } });
    return;
  }
  queue = queue.then(async () => {
    try {
      const fn = (engine as unknown as Record<string, (...a: unknown[]) => unknown>)[op];
      if (typeof fn !== 'function') throw new Error(`attnflow: unknown engine op "${op}"`);
      const value = await fn.apply(engine, args);
      scope.postMessage({ id, ok: true, value }, transferables(value));
    } catch (e) {
      const error = e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
      scope.postMessage({ id, ok: false, error });
    }
  });
};
