/**
 * The page's handle on the model: in a module Worker where the browser allows, else on the page,
 * one small call at a time in idle time.
 */
import type { ItemRef, TrainResult } from '../model/types';
import type { Engine, EngineInit, EngineState, EngineTrainOptions } from './engine';
import type { History } from './window';
import type { EngineOp, EngineRequest, EngineResponse } from './messages';

/** The model, wherever it runs. Every method is async and never blocks the page for long. */
export interface ModelHost {
  /** Where the model runs. */
  readonly where: 'worker' | 'page';
  init(options: EngineInit): Promise<EngineState>;
  /** See `Engine.score`: with `learned`, blended with the topic priors. */
  score(history: History, candidates: (ItemRef | string)[], learned?: number): Promise<Float32Array>;
  train(sequences: History[], options?: EngineTrainOptions): Promise<TrainResult>;
  /** See `Engine.federate`: a federated round's update from the visitor's log. */
  federate: Engine['federate'];
  save(quantization?: 'float32' | 'float16' | 'int8'): Promise<Uint8Array>;
  load(weights: Uint8Array): Promise<void>;
  numTensors(): Promise<number>;
  /** Backend in use, probe results and fallbacks so far. */
  info(): Promise<EngineState | undefined>;
  dispose(): void;
}

/** Options of `createModelHost`. */
export interface HostOptions {
  /** Run in a Worker when possible (default true); false forces the page. */
  worker?: boolean;
  /** URL of the worker script; default `attnflow-worker.js` beside this chunk. */
  workerUrl?: string | URL;
  /** How long the worker may take to answer `init`, ms; default 60000. */
  initTimeoutMs?: number;
}

type Call = (op: EngineOp, args: unknown[]) => Promise<unknown>;

function facade(where: 'worker' | 'page', call: Call, dispose: () => void): ModelHost {
  return {
    where,
    init: (o) => call('init', [o]) as Promise<EngineState>,
    score: (h, c, l) => call('score', [h, c, l]) as Promise<Float32Array>,
    train: (s, o) => call('train', [s, o]) as Promise<TrainResult>,
    federate: (w, h, r) => call('federate', [w, h, r]) as ReturnType<ModelHost['federate']>,
    save: (q) => call('save', [q]) as Promise<Uint8Array>,
    load: (w) => call('load', [w]) as Promise<void>,
    numTensors: () => call('numTensors', []) as Promise<number>,
    info: () => call('info', []) as Promise<EngineState | undefined>,
    dispose,
  };
}

/** Waits for a moment the page is idle (scheduler.postTask background, else requestIdleCallback). */
export function idle(): Promise<void> {
  const g = globalThis as unknown as {
    scheduler?: { postTask?: (cb: () => void, o: { priority: string }) => Promise<void> };
    requestIdleCallback?: (cb: () => void, o: { timeout: number }) => number;
  };
  if (g.scheduler?.postTask) return g.scheduler.postTask(() => {}, { priority: 'background' });
  if (g.requestIdleCallback) return new Promise((r) => g.requestIdleCallback!(() => r(), { timeout: 1000 }));
  return new Promise((r) => setTimeout(r, 0));
}

/**
 * Score and train arguments cross to the worker as JSON text: one string clones several times
 * faster than the hundreds of small objects it stands for (events, candidates), and the worker's
 * JSON.parse is faster still. Item vectors may be typed arrays, which go as plain arrays; only
 * then does JSON.stringify need a replacer, which makes it several times slower.
 */
export function toWire(value: unknown): string {
  return Array.isArray(value) && hasTypedVector(value)
    ? JSON.stringify(value, (_, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v))
    : JSON.stringify(value);
}

function hasTypedVector(list: readonly unknown[]): boolean {
  return list.some((x) => (Array.isArray(x) ? hasTypedVector(x) : ArrayBuffer.isView((x as ItemRef | null)?.vector)));
}

/**
 * The page's side: `score` sends the history, and the candidates only when they differ from the
 * last call's (`null` then: a page scores the same items as its visitor reads on); `train` sends
 * its sequences as text.
 */
export function packer(): (op: EngineOp, args: unknown[]) => unknown[] {
  let last: string | undefined;
  return (op, args) => {
    if (op === 'train') return [toWire(args[0]), args[1]];
    if (op !== 'score') return args;
    const history = toWire(args[0]);
    const candidates = toWire(args[1]);
    const same = candidates === last;
    last = candidates;
    return [history, same ? null : candidates, args[2]];
  };
}

type ScriptUrlPolicy = { createScriptURL(url: string): unknown };
let policy: ScriptUrlPolicy | undefined;

/**
 * The worker's URL as the page's Trusted Types rules want it: under `require-trusted-types-for
 * 'script'` a Worker takes only a TrustedScriptURL, which our policy gives for same-origin URLs.
 * https://w3c.github.io/trusted-types/dist/spec/#integration-with-html
 */
function scriptUrl(url: string | URL): string | URL {
  const tt = (globalThis as { trustedTypes?: { createPolicy(name: string, rules: object): ScriptUrlPolicy } }).trustedTypes;
  if (!tt) return url;
  policy ??= tt.createPolicy('attnflow', {
    createScriptURL(u: string) {
      const parsed = new URL(u, globalThis.location?.href);
      if (parsed.origin !== globalThis.location?.origin) throw new Error(`attnflow: worker ${u} is not on this origin`);
      return parsed.href;
    },
  });
  return policy.createScriptURL(String(url)) as string;
}

function workerHost(url: string | URL, initTimeoutMs: number): ModelHost {
  const worker = new Worker(scriptUrl(url), { type: 'module', name: 'attnflow-model' });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  let broken: Error | undefined;
  const failAll = (error: Error) => {
    broken = error;
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  worker.onmessage = (event: MessageEvent<EngineResponse>) => {
    const msg = event.data;
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(Object.assign(new Error(msg.error.message), { name: msg.error.name }));
  };
  worker.onerror = (event) => {
    event.preventDefault();
    failAll(new Error(`attnflow: the model worker failed: ${event.message || 'could not load'}`));
  };
  worker.onmessageerror = () => failAll(new Error('attnflow: the model worker sent an unreadable message'));
  const pack = packer();
  const call: Call = (op, args) => {
    if (broken) return Promise.reject(broken);
    const id = ++next;
    return new Promise((resolve, reject) => {
      const message = { id, op, args: pack(op, args) } satisfies EngineRequest;
      pending.set(id, { resolve, reject });
      worker.postMessage(message);
      if (op === 'init') {
        setTimeout(() => {
          if (pending.delete(id)) reject(new Error('attnflow: the model worker did not start in time'));
        }, initTimeoutMs);
      }
    });
  };
  return facade('worker', call, () => {
    failAll(new Error('attnflow: the model was disposed'));
    worker.terminate();
  });
}

async function pageHost(): Promise<ModelHost> {
  const { Engine } = await import('./engine');
  const engine = new Engine({ onPage: true });
  let queue: Promise<unknown> = Promise.resolve();
  const call: Call = (op, args) => {
    const run = queue.then(async () => {
      await idle();
      const fn = (engine as unknown as Record<string, (...a: unknown[]) => unknown>)[op]!;
      return fn.apply(engine, args);
    });
    queue = run.catch(() => {});
    return run;
  };
  return facade('page', call, () => engine.dispose());
}

/**
 * Starts the model: in a Worker when the browser allows and `worker` is not false, else on the
 * page. Falls back to the page when the worker cannot start (blocked by CSP, 404, old browser).
 */
export async function createModelHost(options: HostOptions & { init: EngineInit }): Promise<{ host: ModelHost; state: EngineState }> {
  const { worker = true, initTimeoutMs = 60_000, init } = options;
  // A browser without module workers loads the script as a classic one, which fails to parse:
  // that error, like a 404 or a CSP block, lands in `onerror` and the model moves to the page.
  if (worker && typeof Worker !== 'undefined') {
    const url = options.workerUrl ?? new URL('./attnflow-worker.js', import.meta.url);
    let host: ModelHost | undefined;
    try {
      // A page policy that allows no worker (CSP, Trusted Types) throws here: the page runs the model.
      host = workerHost(url, initTimeoutMs);
      return { host, state: await host.init(init) };
    } catch {
      host?.dispose();
    }
  }
  const host = await pageHost();
  return { host, state: await host.init(init) };
}
