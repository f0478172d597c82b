/**
 * The model on the visitor's device: scores page items from the visitor's own attention log and
 * learns from it in idle time. Lives in the model chunk (page side); the model itself runs in the
 * Worker through the host, and reads the visitor's window of the log there. Storage comes in as
 * callbacks, so this file knows no IndexedDB.
 */
import { AttnflowBackendError } from '../lib/errors';
import { SITE_MODEL_WEIGHT } from '../rules';
import type { RoundInfo } from '../federated/round';
import type { SiteModel } from '../model/manifest';
import type { ItemRef, TrainResult } from '../model/types';
import type { BackendName } from './backend';
import type { EngineState } from './engine';
import { createModelHost, idle, type ModelHost } from './host';
import { sequenceOf, type Candidate, type History, type LoggedView, type LogWindow } from './window';

export { sequenceOf, topicPrior } from './window';
export type { Candidate, LoggedView, LogWindow };

/** The backend measured on this device, kept between visits. */
export interface BackendChoice {
  name: BackendName;
  /** The WebGL renderer when it was measured: a new GPU or driver measures again. */
  renderer?: string;
  /** Median ms of the scoring call per backend, when it was measured. */
  probe?: Record<string, number | string>;
}

/** What the learner needs from the page and the store. */
export interface LearnerDeps {
  /**
   * The visitor's log (any order), or where the model reads its window of it itself: the log's
   * database, once everything recorded is in it.
   */
  history(): Promise<LoggedView[] | LogWindow>;
  /**
   * The visitor's weights, when saved before: how many steps they were trained on this visitor,
   * and which of the site's models (`modelUrl`) they began as, if one.
   */
  loadWeights(): Promise<{ data: Uint8Array; steps: number; site?: string } | undefined>;
  saveWeights(bytes: Uint8Array, meta: { steps: number; loss: number; backend: string; site?: string }): Promise<void>;
  loadBackend(): Promise<BackendChoice | undefined>;
  saveBackend(choice: BackendChoice): Promise<void>;
  /** True while this tab is the one that trains. */
  isLeader(): boolean;
  /** The site's own model (`modelUrl`), when it has one. */
  site?: SiteModel;
  report(error: unknown, where: string): void;
  log(...args: unknown[]): void;
  /** Run the model in a Worker when possible; default true. */
  worker?: boolean;
  /** Training steps allowed per page session; default 60. */
  stepBudget?: number;
  /** Whether the device is saving power (training waits); default `savingPower`. */
  savingPower?(): Promise<boolean>;
  /**
   * Federated training of the site model (a `modelUrl` whose manifest names a round, and a
   * `collectUrl`): where the round is read, what this device did in a round, and where an update goes.
   */
  federated?: FederatedDeps;
}

/** What federated training needs from the page and the store. */
export interface FederatedDeps {
  /** True while storing is allowed (consent, no GPC or DNT) and the log persists. */
  allowed(): boolean;
  /** The open round as the collector describes it; undefined when there is none or it cannot be read. */
  round(): Promise<RoundInfo | undefined>;
  /** What this device did in `round`, if anything yet. */
  done(round: number): Promise<'sent' | 'declined' | undefined>;
  mark(round: number, what: 'sent' | 'declined'): Promise<void>;
  /** Sends the update of `round`. */
  send(round: number, update: Uint8Array): Promise<void>;
  /** Uniform numbers for the device's draw to join a round; default crypto. */
  random?(): number;
}

/** What the learner reports about itself (for the debug overlay and tests). */
export interface LearnerState {
  backend?: string;
  renderer?: string;
  where?: 'worker' | 'page';
  steps: number;
  loss?: number;
  training: boolean;
  /** The weights began as the site's model (`modelUrl`). */
  site?: boolean;
  probe?: EngineState['probe'];
  /** The last federated update this page sent: its round, size and norm before clipping. */
  federated?: { round: number; bytes: number; norm: number };
}

/**
 * How far the model's scores are trusted against the topic priors: a fresh model not at all, the
 * site's own model (trained on its visitors) half, and either fully after this many steps on this
 * visitor.
 */
const TRUSTED_AFTER_STEPS = 40;
/** Steps per training round. */
const ROUND_STEPS = 4;

export interface Learner {
  /** Scores for `items`, higher first; model and topic priors blended by how much the model has learned. */
  score(items: readonly Candidate[]): Promise<Record<string, number>>;
  /** A few training steps on the visitor's own log, when this tab leads and the page is idle and visible. */
  train(): Promise<TrainResult | undefined>;
  /** Replace the weights (another tab trained). */
  reload(): Promise<void>;
  state(): LearnerState;
  dispose(): void;
}

/** The Battery Status API, where the browser has it (Chromium). */
type BatteryNavigator = { getBattery?: () => Promise<{ charging: boolean; level: number }> };

/**
 * Whether the device is saving power: on battery and at 20 % or less, where phones and laptops
 * turn their battery saver on (no browser tells the saver itself). Unknown counts as no.
 */
export async function savingPower(): Promise<boolean> {
  try {
    const battery = await (globalThis.navigator as BatteryNavigator | undefined)?.getBattery?.();
    return !!battery && !battery.charging && battery.level <= 0.2;
  } catch {
    return false;
  }
}

/** A uniform number in [0, 1) from the platform's cryptographic source. */
function cryptoUniform(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! / 4294967296;
}

export function createLearner(deps: LearnerDeps): Learner {
  const budget = deps.stepBudget ?? 60;
  const st: LearnerState = { steps: 0, training: false };
  let started: Promise<ModelHost> | undefined;
  let stepsInStore = 0;
  /** The site's model the weights began as, if one. */
  let lineage: string | undefined;
  let disposed = false;
  /** This page tried its federated round already: at most one try per page. */
  let federatedTried = false;
  /** Steps of federated training this page session (they count against the step budget too). */
  let fedSteps = 0;

  /**
   * The weights to start from: the visitor's own while they began as the site's current model (or
   * the site has none), else the site's current model, else the visitor's own or none (a fresh
   * model). A site model that cannot be read is reported, and changes nothing else.
   */
  const startWeights = async (): Promise<{ weights?: Uint8Array; from: 'the saved weights' | 'the site model' }> => {
    const saved = await deps.loadWeights();
    const own = () => {
      stepsInStore = saved?.steps ?? 0;
      lineage = saved?.site;
      return { weights: saved?.data, from: 'the saved weights' as const };
    };
    if (!deps.site) return own();
    try {
      const current = await deps.site.manifest();
      if (saved && saved.site === current) return own();
      const weights = await deps.site.weights();
      if (saved) deps.log('the site has a new model: starting from it');
      stepsInStore = 0;
      lineage = current;
      return { weights, from: 'the site model' };
    } catch (error) {
      deps.report(error, 'loading the site model');
      return own();
    }
  };

  const start = (probeItems: readonly Candidate[], history: History) =>
    (started ??= (async () => {
      const { weights, from } = await startWeights();
      const remembered = await deps.loadBackend();
      // Only a WebGL choice belongs to a GPU; naming it takes a WebGL context (tens of ms on the
      // page), so it is read only to check such a choice.
      const sameDevice = remembered && (remembered.name !== 'webgl' || remembered.renderer === (await import('./backend')).probeRenderer());
      const open = (w: Uint8Array | undefined) =>
        createModelHost({
          worker: deps.worker ?? true,
          init: {
            remembered: sameDevice ? remembered!.name : undefined,
            model: w ? { weights: w } : { seed: 1 },
            // Training before any scoring times the call on the visitor's own items (no candidates).
            probe: { history, candidates: probeItems.map((c) => ({ itemId: c.id, topics: c.topics })), rounds: 5 },
          },
        });
      const { host, state } = await open(weights).catch((error: unknown) => {
        if (!weights) throw error;
        // Weights no backend could load (a damaged or foreign file): report them, start afresh;
        // the first training round then replaces them in the store.
        deps.report(error, `starting from ${from}`);
        stepsInStore = 0;
        lineage = undefined;
        return open(undefined);
      });
      Object.assign(st, {
        backend: state.backend.name,
        renderer: state.backend.renderer,
        where: host.where,
        probe: state.probe,
        site: lineage !== undefined,
      });
      deps.log('model on', state.backend.name, 'in the', host.where, state.probe);
      // A backend that failed to start is the site's to know of, on its onError hook: never the console's.
      for (const p of state.probe) {
        if (p.scoreMs === undefined && p.error && !/^(not measured|software WebGL skipped)/.test(p.error)) {
          deps.report(new AttnflowBackendError(p.backend, p.error, state.backend.name), 'starting the model');
        }
      }
      if (state.probe.some((p) => p.scoreMs !== undefined)) {
        const probe: Record<string, number | string> = {};
        for (const p of state.probe) probe[p.backend] = p.scoreMs ?? p.error ?? '';
        await deps
          .saveBackend({ name: state.backend.name, renderer: state.backend.renderer, probe })
          .catch((e) => deps.report(e, 'saving the backend choice'));
      }
      return host;
    })());

  // The events as given (sorted, the newest kept), or the window for the model to read.
  const historyOf = async (): Promise<History> => {
    const log = await deps.history();
    return Array.isArray(log) ? sequenceOf(log) : log;
  };

  const score: Learner['score'] = async (items) => {
    if (!items.length) return {};
    const history = await historyOf();
    const host = await start(items, history);
    const refs: ItemRef[] = items.map((c) => ({ itemId: c.id, topics: c.topics }));
    // The model earns weight as it trains on this visitor; the site's model starts half-trusted.
    const own = Math.min(1, (stepsInStore + st.steps) / TRUSTED_AFTER_STEPS);
    const learned = lineage !== undefined ? SITE_MODEL_WEIGHT + (1 - SITE_MODEL_WEIGHT) * own : own;
    const blended = await host.score(history, refs, learned);
    const out: Record<string, number> = {};
    items.forEach((c, i) => (out[c.id] = blended[i]!));
    return out;
  };

  const hidden = () => typeof document !== 'undefined' && document.visibilityState !== 'visible';
  const saving = deps.savingPower ?? savingPower;
  const train: Learner['train'] = async () => {
    if (disposed || st.training) return (deps.log('model training skipped: busy'), undefined);
    st.training = true;
    try {
      const skip =
        st.steps + fedSteps >= budget
          ? 'step budget of this session spent'
          : !deps.isLeader()
            ? 'another tab trains'
            : hidden()
              ? 'page hidden'
              : (await saving())
                ? 'the device is saving power'
                : undefined;
      if (skip) {
        deps.log('model training skipped:', skip);
        return undefined;
      }
      const history = await historyOf();
      if (Array.isArray(history) && history.length < 3) {
        deps.log('model training skipped: log too short', history.length);
        return undefined;
      }
      const host = await start([], history);
      let result: TrainResult | undefined;
      for (let i = 0; i < ROUND_STEPS && st.steps + fedSteps < budget; i++) {
        await idle();
        // Each step asks again: the page may have been hidden, or the device unplugged, meanwhile.
        if (disposed || !deps.isLeader() || hidden() || (await saving())) break;
        // Negatives from the items of the visitor's own log.
        const step = await host.train([history], { negativePool: 'history' });
        // Nothing read or clicked in the log yet (or a log too short): nothing to learn, and not a
        // step toward the model's weight in the scores.
        if (!step.targets) {
          deps.log('model training skipped: nothing read or clicked yet');
          break;
        }
        result = step;
        st.steps++;
        st.loss = step.loss;
      }
      if (result) {
        const bytes = await host.save('float32');
        await deps.saveWeights(bytes, { steps: stepsInStore + st.steps, loss: result.loss, backend: st.backend ?? '', site: lineage });
      }
      if (deps.federated && !federatedTried && !disposed && deps.isLeader() && !hidden()) {
        federatedTried = true;
        await federate(deps.federated, host, history).catch((error) => disposed || deps.report(error, 'federated training'));
      }
      return result;
    } finally {
      st.training = false;
    }
  };

  /**
   * This device's part in the site model's open round, once per round: the round read from the
   * collector and checked against the site's manifest, a draw to join it (the round's sample
   * rate), local training from the round's weights in the Worker, and the update sent. The
   * visitor's own weights are not touched. Where the model runs on the page, no training round is
   * joined, as its training there would cost the page long tasks; a statistics round is, as its
   * counts cost next to nothing.
   */
  const federate = async (fed: FederatedDeps, host: ModelHost, history: History): Promise<void> => {
    if (!deps.site || !fed.allowed()) return;
    const manifest = JSON.parse(await deps.site.manifest()) as { round?: unknown };
    const round = manifest.round;
    if (typeof round !== 'number' || !Number.isInteger(round)) return;
    if (await fed.done(round)) return;
    const info = await fed.round();
    if (!info || info.round !== round) return deps.log('federated round skipped: the collector is at round', info?.round);
    if (host.where !== 'worker' && info.kind !== 'statistics') return deps.log('federated round skipped: the model runs on the page');
    // A statistics round trains nothing: it sends counts of what was read.
    const steps = info.kind === 'statistics' ? 0 : info.steps;
    if (st.steps + fedSteps + steps > budget) return deps.log('federated round skipped: step budget of this session spent');
    const draw = (fed.random ?? cryptoUniform)();
    if (draw >= info.sampleRate) {
      await fed.mark(round, 'declined');
      return deps.log('federated round', round, 'not joined (sampled out)');
    }
    const weights = steps ? await deps.site.weights() : new Uint8Array(0);
    if (disposed || hidden() || (await saving())) return;
    await idle();
    fedSteps += steps;
    const out = await host.federate(weights, history, info);
    if (!out) return deps.log('federated round skipped: nothing to learn from yet');
    await fed.send(round, out.update);
    await fed.mark(round, 'sent');
    st.federated = { round, bytes: out.update.byteLength, norm: out.norm };
    deps.log('federated update sent', { round, bytes: out.update.byteLength, loss: out.loss, norm: out.norm });
  };

  return {
    score,
    // A round cut short by `dispose` (the page model stopped) is no error of the page's.
    train: () => train().catch((error) => (disposed || deps.report(error, 'training the model'), undefined)),
    async reload() {
      if (!started) return;
      const saved = await deps.loadWeights();
      if (!saved) return;
      stepsInStore = saved.steps - st.steps;
      lineage = saved.site;
      st.site = lineage !== undefined;
      await (await started).load(saved.data);
    },
    state: () => ({ ...st }),
    dispose() {
      disposed = true;
      void started?.then((h) => h.dispose()).catch(() => {});
    },
  };
}
