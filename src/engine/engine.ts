/**
 * The model engine: one attention model on the fastest backend that works here, with fallback.
 * Runs inside the model Worker, or on the page where workers are unavailable. DOM-free.
 */
import { memory } from '@tensorflow/tfjs-core';
import { pause } from '../lib/pause';
import { specsOf } from '../federated/local';
import type { RoundInfo } from '../federated/round';
import { countStatistics, encodeStatistics, readsOf } from '../federated/statistics';
import { clipDelta, encodeUpdate, noiseDelta, secureRandom } from '../federated/update';
import { loadModel, localUpdate } from '../model/index';
import type { AttentionEvent, AttentionModel, ItemRef, LoadModelOptions, TrainOptions, TrainResult } from '../model/types';
import { blend, eventsOf, type History } from './window';
import {
  BACKENDS,
  dropBackend,
  initBackend,
  isSoftwareRenderer,
  probeRenderer,
  setWasmFolder,
  webglContext,
  type BackendInfo,
  type BackendName,
} from './backend';

/** How one backend did in the start-up probe. */
export interface ProbeResult {
  backend: BackendName;
  /** One scoring call, ms: the fastest of the timed rounds, each the mean of its calls; undefined when the backend failed. */
  scoreMs?: number;
  /** Time to import and initialize the backend, ms. */
  initMs?: number;
  /** Timed calls (the warm-up call not counted). */
  calls?: number;
  /** Why it failed or was skipped. */
  error?: string;
}

/** Options of `init`. */
export interface EngineInit {
  /** Backends allowed, in order of preference; default webgl, wasm, cpu. */
  backends?: BackendName[];
  /** Backend measured earlier on this device; used without probing when it still works. */
  remembered?: BackendName;
  /**
   * A scoring call to time on each backend (a short history is timed as a full one, see
   * `probeHistory`); without it the first backend that works is used.
   */
  probe?: { history: History; candidates: (ItemRef | string)[]; rounds?: number };
  /** Model config or saved weights. */
  model?: LoadModelOptions;
  /**
   * Skip WebGL without measuring it when it runs in software (SwiftShader, llvmpipe): there WASM is
   * ~25× faster, and the probe alone would spend seconds compiling shaders. Default true.
   */
  skipSoftwareGL?: boolean;
  /** Folder of the .wasm binaries (absolute URL). */
  wasmFolder?: string;
}

/** Options of a training step: a pool of `'history'` draws negatives from the items of the sequences. */
export type EngineTrainOptions = Omit<TrainOptions, 'negativePool'> & { negativePool?: TrainOptions['negativePool'] | 'history' };

/** What `init` reports. */
export interface EngineState {
  backend: BackendInfo;
  probe: ProbeResult[];
  numParams: number;
  /** Backends that failed since start-up, in the order they failed. */
  fellBackFrom: BackendName[];
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * A probe round repeats the call until it has run this long (ms), at most `PROBE_CALLS` times: a
 * worker's clock ticks in 0.1 ms steps, and one small call would read 0 or 0.1 ms on any backend.
 */
const PROBE_ROUND_MS = 3;
const PROBE_CALLS = 16;
/** A backend this many times slower in a round than one measured before it is not timed further. */
const PROBE_BEHIND = 3;
/** A history shorter than this is timed as the visitor's will be once they have read on. */
const PROBE_MIN_HISTORY = 16;

/**
 * The history the probe scores. A visitor with no history yet (a first visit) is scored from a
 * cache after the first call, which times nothing, and a few events time a call far smaller than
 * the ones to come: a history that short gets events of the candidates before it, up to the
 * length the model reads.
 */
export function probeHistory(history: AttentionEvent[], candidates: (ItemRef | string)[], length: number): AttentionEvent[] {
  if (history.length >= Math.min(PROBE_MIN_HISTORY, length)) return history;
  const items = candidates.length ? candidates.map((c) => (typeof c === 'string' ? { itemId: c } : c)) : [{ itemId: 'probe' }];
  const made = Array.from({ length: length - history.length }, (_, i) => {
    const { itemId, topics, vector } = items[i % items.length]!;
    return { itemId, topics, vector, attentionMs: (i % 7) * 700, viewId: `probe-${i >> 3}` };
  });
  return [...made, ...history];
}

/** The distinct items of `events`, each once, in the order they first appear. */
function distinctItems(events: readonly AttentionEvent[]): ItemRef[] {
  const seen = new Map<string, ItemRef>();
  for (const e of events) if (!seen.has(e.itemId)) seen.set(e.itemId, { itemId: e.itemId, topics: e.topics ?? [] });
  return [...seen.values()];
}

export class Engine {
  /** `onPage`: the engine runs on the page's main thread, where training steps run in slices. */
  constructor(private readonly options: { onPage?: boolean } = {}) {}

  private model: AttentionModel | undefined;
  private order: BackendName[] = [...BACKENDS];
  private weights: Uint8Array | undefined;
  private modelOptions: LoadModelOptions = {};
  private state: EngineState | undefined;
  private contextLost = false;
  private detach: (() => void) | undefined;
  /** Why the model itself (not a backend) could not load: its weights or options. */
  private rejected: Error | undefined;
  /** Why the last backend tried could not load. */
  private failure: string | undefined;

  /** Picks the backend (by measurement when asked) and loads the model on it. */
  async init(options: EngineInit = {}): Promise<EngineState> {
    if (options.wasmFolder) setWasmFolder(options.wasmFolder);
    if (options.probe) {
      const history = await eventsOf(options.probe.history);
      // Nothing to score yet (training first): time the call on the visitor's own items.
      const candidates = options.probe.candidates.length ? options.probe.candidates : distinctItems(history).slice(-200);
      options = { ...options, probe: { ...options.probe, history, candidates } };
    }
    this.order = (options.backends ?? [...BACKENDS]).filter((b) => BACKENDS.includes(b));
    this.modelOptions = { ...options.model };
    this.weights = options.model?.weights ? new Uint8Array(options.model.weights) : undefined;
    const probe: ProbeResult[] = [];

    const skipSoftwareGL = (): boolean => {
      if (options.skipSoftwareGL === false || !this.order.includes('webgl') || !isSoftwareRenderer(probeRenderer())) return false;
      probe.push({ backend: 'webgl', error: 'software WebGL skipped' });
      this.order = this.order.filter((b) => b !== 'webgl');
      return true;
    };
    // On the page, WASM is measured first and alone while it works: WebGL's shader compiles and
    // CPU's first calls are long tasks there, and even naming the GPU takes a WebGL context (tens
    // of ms). The others are measured only when WASM fails.
    const wasmFirst = !!(this.options.onPage && options.probe && !options.remembered && this.order.includes('wasm'));
    if (wasmFirst) this.order = ['wasm', ...this.order.filter((b) => b !== 'wasm')];
    else skipSoftwareGL();

    let chosen: BackendName | undefined;
    if (options.remembered && this.order.includes(options.remembered)) {
      if (await this.tryLoad(options.remembered)) chosen = options.remembered;
    }
    if (!chosen && options.probe && (this.order.length > 1 || wasmFirst)) {
      for (const name of [...this.order]) {
        if (wasmFirst && name !== 'wasm' && probe.some((r) => r.scoreMs !== undefined)) {
          probe.push({ backend: name, error: 'not measured on the page: WASM works' });
          continue;
        }
        if (wasmFirst && name === 'webgl' && skipSoftwareGL()) continue;
        const result: ProbeResult = { backend: name };
        probe.push(result);
        if (name === this.order[this.order.length - 1] && !probe.some((r) => r.scoreMs !== undefined)) {
          // The last backend, and none before it works: nothing to choose between. Not timed: on
          // the page its cold calls would be long tasks, and anywhere they delay the first score.
          if (await this.tryLoad(name)) chosen = name;
          result.error = chosen ? 'not measured: no other backend works' : 'failed to initialize';
          break;
        }
        try {
          const t0 = performance.now();
          if (!(await this.tryLoad(name))) throw new Error(this.failure ?? 'failed to initialize');
          result.initMs = performance.now() - t0;
          const { candidates, rounds = 5 } = options.probe;
          const history = probeHistory(options.probe.history as AttentionEvent[], candidates, this.model!.config.maxLen);
          await this.model!.score(history, candidates, { sliced: this.options.onPage }); // warm-up: shader compiles, wasm tiers
          const times: number[] = [];
          let turn = 0;
          for (let i = 0; i < rounds; i++) {
            // Each round a task of its own: on the page, rounds back to back would be one long task.
            await pause();
            let calls = 0;
            const t = performance.now();
            do {
              // The history turned by one more each call: the whole model runs every time, as for
              // a new page view, not the kept visitor vector of the call before.
              const k = ++turn % Math.max(1, history.length);
              await this.model!.score(history.slice(k).concat(history.slice(0, k)), candidates, { sliced: this.options.onPage });
            } while (++calls < PROBE_CALLS && performance.now() - t < PROBE_ROUND_MS);
            times.push((performance.now() - t) / calls);
            result.calls = (result.calls ?? 0) + calls;
            // Far behind a backend measured already: its remaining rounds would only delay the choice.
            if (probe.some((r) => r.scoreMs !== undefined && times[i]! > PROBE_BEHIND * r.scoreMs)) break;
          }
          // The fastest round: what the backend can do, not what else the machine was doing.
          result.scoreMs = Math.min(...times);
        } catch (e) {
          result.error = message(e);
        }
      }
      const ok = probe.filter((r) => r.scoreMs !== undefined).sort((a, b) => a.scoreMs! - b.scoreMs!);
      const best = ok[0]?.backend;
      // The last backend measured is still loaded: kept as it is when it won.
      if (best && ((this.model && this.state?.backend.name === best) || (await this.tryLoad(best)))) chosen = best;
    }
    if (!chosen) {
      for (const name of this.order) {
        if (await this.tryLoad(name)) {
          chosen = name;
          break;
        }
      }
    }
    if (!chosen || !this.state) throw this.rejected ?? new Error('attnflow: no tfjs backend could run the model here');
    this.state.probe = probe;
    return this.state;
  }

  /** Initializes `name` and loads the model onto it; false when that fails. */
  private async tryLoad(name: BackendName): Promise<boolean> {
    this.unload();
    try {
      const backend = await initBackend(name);
      // A new model is the same model again from its seed, so a fallback before any training
      // starts from the same weights without a copy of them (which would cost a long task here).
      this.model = await loadModel(this.weights ? { ...this.modelOptions, weights: this.weights } : this.modelOptions);
      this.state = {
        backend,
        probe: this.state?.probe ?? [],
        numParams: this.model.numParams,
        fellBackFrom: this.state?.fellBackFrom ?? [],
      };
      this.watchContext();
      return true;
    } catch (error) {
      // Weights or options the model rejects fail on every backend alike: that is the reason to give.
      if (error instanceof Error && error.name === 'AttnflowConfigError') this.rejected = error;
      this.failure = message(error).replace(/^attnflow: /, '');
      this.unload();
      return false;
    }
  }

  private watchContext(): void {
    this.contextLost = false;
    const canvas = webglContext()?.canvas as (EventTarget & { addEventListener?: unknown }) | undefined;
    if (!canvas || typeof canvas.addEventListener !== 'function') return;
    const lost = (event: Event) => {
      event.preventDefault();
      this.contextLost = true;
    };
    canvas.addEventListener('webglcontextlost', lost);
    this.detach = () => canvas.removeEventListener('webglcontextlost', lost);
  }

  private unload(): void {
    this.detach?.();
    this.detach = undefined;
    this.model?.dispose();
    this.model = undefined;
  }

  /** Moves the model to the next backend after `failed`, from the last good weights. */
  private async fallBack(failed: BackendName): Promise<void> {
    try {
      // Training since the last save is kept when the failing backend can still read its weights.
      if (this.model && !this.contextLost) this.weights = this.model.save('float32');
    } catch {
      // Lost with the backend: start again from the last saved weights.
    }
    this.unload();
    dropBackend(failed);
    this.state!.fellBackFrom.push(failed);
    this.order = this.order.filter((b) => b !== failed);
    for (const name of this.order) {
      if (await this.tryLoad(name)) return;
    }
    throw new Error(`attnflow: no tfjs backend left after ${failed} failed`);
  }

  /** Runs `fn` on the current model; on a failing backend or lost context, falls back and retries once. */
  private async run<T>(fn: (model: AttentionModel) => Promise<T>): Promise<T> {
    if (!this.model || !this.state) throw new Error('attnflow: model engine used before init');
    if (this.contextLost) await this.fallBack(this.state.backend.name);
    try {
      const out = await fn(this.model);
      if (this.contextLost) throw new Error('WebGL context lost');
      return out;
    } catch (error) {
      if (error instanceof Error && error.name === 'AttnflowConfigError') throw error;
      await this.fallBack(this.state.backend.name);
      return fn(this.model!);
    }
  }

  /**
   * Scores of `candidates` for the visitor with `history`, as an array in candidate order; with
   * `learned` (0..1), blended with the topic priors of the history by how much the model has learned.
   */
  async score(history: History, candidates: (ItemRef | string)[], learned?: number): Promise<Float32Array> {
    const events = await eventsOf(history);
    const scores = await this.run((m) => m.score(events, candidates, { sliced: this.options.onPage }));
    if (learned === undefined) return scores;
    const items = candidates.map((c) => (typeof c === 'string' ? { id: c, topics: [] } : { id: c.itemId, topics: c.topics ?? [] }));
    return blend(scores, events, items, learned);
  }

  /**
   * One training step. `save()` afterwards makes its weights the fallback point. With a pool of
   * `'history'`, a log too short to learn from (under 3 events) is no step: 0 targets.
   */
  async train(sequences: History[], options: EngineTrainOptions = {}): Promise<TrainResult> {
    const seqs = await Promise.all(sequences.map(eventsOf));
    const fromHistory = options.negativePool === 'history';
    if (fromHistory && !seqs.some((s) => s.length >= 3)) return { loss: 0, targets: 0 };
    const o: TrainOptions = {
      ...options,
      negativePool: fromHistory ? distinctItems(seqs.flat()) : (options.negativePool as TrainOptions['negativePool']),
    };
    return this.run((m) => m.train(seqs, this.options.onPage ? { ...o, sliced: true } : o));
  }

  /**
   * A federated round's update from this visitor's log: the round's SGD steps from the round's
   * `weights` (the site model), on a network of their own (the visitor's model is untouched), the
   * change clipped to the round's norm, noised here when the round asks for local noise, and
   * encoded (int8 per row). In a statistics round, the counts of what was read instead
   * (federated/statistics.ts), with no training. Undefined when the log has nothing to learn from.
   */
  async federate(
    weights: Uint8Array,
    history: History,
    round: Pick<RoundInfo, 'round' | 'kind' | 'scaled' | 'steps' | 'learningRate' | 'clip' | 'noise' | 'localStd' | 'items'>,
  ): Promise<{ update: Uint8Array; loss: number; targets: number; norm: number } | undefined> {
    const events = await eventsOf(history);
    if (events.length < 3) return undefined;
    if (round.kind === 'statistics') {
      // Counts of what was read, in the round's list; nothing of the model is trained.
      const reads = readsOf(events, round.items);
      if (reads.length < 2) return undefined;
      const stats = countStatistics(round.round, reads, round.items.length, !!round.scaled);
      return { update: encodeStatistics(stats, round.items.length), loss: NaN, targets: reads.length, norm: 0 };
    }
    const rand = secureRandom();
    const out = localUpdate(weights, events, {
      steps: round.steps,
      learningRate: round.learningRate,
      negativePool: round.items.length ? round.items : undefined,
      rand,
    });
    if (!out.targets || !Number.isFinite(out.loss)) return undefined;
    // Local noise goes on the dense encoder alone: table rows would tell which items the visitor read.
    if (round.noise === 'local') out.delta.rows.clear();
    const norm = clipDelta(out.delta, round.clip);
    if (round.noise === 'local') noiseDelta(out.delta, round.localStd ?? 0, rand);
    const update = encodeUpdate(round.round, out.delta, specsOf(out.config), { noised: round.noise === 'local', rand });
    return { update, loss: out.loss, targets: out.targets, norm };
  }

  /**
   * The current weights, for the store or another tab; on the page read a weight per task. The
   * engine keeps them as its fallback point: a copy in the worker, which hands its bytes over to
   * the page (transferred, so gone from here).
   */
  async save(quantization: 'float32' | 'float16' | 'int8' = 'float32'): Promise<Uint8Array> {
    if (!this.model) throw new Error('attnflow: model engine used before init');
    const onPage = this.options.onPage;
    const bytes = onPage ? await this.model.saveSliced(quantization) : this.model.save(quantization);
    if (quantization === 'float32') this.weights = onPage ? bytes : bytes.slice();
    return bytes;
  }

  /** Replaces the weights (e.g. trained in another tab). */
  async load(weights: Uint8Array): Promise<void> {
    this.weights = new Uint8Array(weights);
    const name = this.state?.backend.name;
    if (!name || !(await this.tryLoad(name))) throw new Error('attnflow: could not load the new weights');
  }

  info(): EngineState | undefined {
    return this.state;
  }

  /** Tensors alive in tfjs, for leak checks. */
  numTensors(): number {
    return memory().numTensors;
  }

  dispose(): void {
    this.unload();
  }
}
