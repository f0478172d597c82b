/** Plain data types of the attention model: what callers feed in and get back. */

/** One thing the visitor saw: an item and the attention it received in one view. */
export interface AttentionEvent {
  /** Stable item id (`data-attn-item`). */
  itemId: string;
  /** Topics of the item (`data-attn-topics`); default none. */
  topics?: readonly string[];
  /** Attention the item received, ms; default 0 (unknown). */
  attentionMs?: number;
  /** Time the pointer rested on the item, ms; default 0. */
  hoverMs?: number;
  /** Clicks on the item; default 0. */
  clicks?: number;
  /** Seen but skipped: in view long enough to be recognised, yet given little attention; default false. */
  skipped?: boolean;
  /** The page view the event belongs to; skipped items of the same view are the first negatives. */
  viewId?: string;
  /** Site-provided item vector, length `itemVectorDim`; default none. */
  vector?: ArrayLike<number>;
}

/** A candidate to score: an item id, optionally with topics and a site-provided vector. */
export interface ItemRef {
  /** Stable item id. */
  itemId: string;
  /** Topics of the item; default none. */
  topics?: readonly string[];
  /** Site-provided item vector, length `itemVectorDim`; default none. */
  vector?: ArrayLike<number>;
}

/** Architecture and training settings; every field has a default (see `DEFAULT_CONFIG`). */
export interface ModelConfig {
  /** Width of item and visitor vectors; default 32. */
  dim: number;
  /** Most recent events the visitor encoder reads; default 50. */
  maxLen: number;
  /** Self-attention blocks; default 2. */
  blocks: number;
  /** Attention heads per block (must divide `dim`); default 1. */
  heads: number;
  /** Hidden width of the point-wise feed-forward layer; default `dim`. */
  ffnDim: number;
  /** Dropout rate while training, 0..1; default 0.2. */
  dropout: number;
  /** Buckets of the hashed item-id embedding; default 16384. */
  idBuckets: number;
  /** Independent id hashes whose bucket vectors are summed, 1..4; default 2. */
  idHashes: number;
  /** Buckets of the hashed topic embedding (0 disables topics); default 1024. */
  topicBuckets: number;
  /** Length of site-provided item vectors (0 disables them); default 0. */
  itemVectorDim: number;
  /** Loss: `bce` (binary cross-entropy) or `softmax` (sampled softmax), both over sampled negatives; default `bce`. */
  loss: 'bce' | 'softmax';
  /** Shared sampled negatives per training batch; default 64. */
  negatives: number;
  /** Per-target negatives taken from skipped items of the same view; default 4. */
  skippedNegatives: number;
  /** Adam learning rate; default 1e-3. */
  learningRate: number;
  /** Learning rate of the item tables (id, bias, topic) relative to `learningRate`; default 1. */
  tableLearningRate: number;
  /** Adam epsilon, explicit because backends differ (WebGL 1e-4, CPU/WASM 1e-7); default 1e-6. */
  epsilon: number;
  /** Decoupled weight decay per step, relative; default 0. */
  weightDecay: number;
  /** Seed for initialisation, dropout and negative sampling; default 1. */
  seed: number;
  /** Keep optimizer state so `train` can run; false for score-only models; default true. */
  trainable: boolean;
}

/** Options of `loadModel`: any subset of the config, optionally saved weights to start from. */
export interface LoadModelOptions extends Partial<ModelConfig> {
  /** Weights written by `save()` (the config inside them wins over the fields above). */
  weights?: ArrayBuffer | Uint8Array;
}

/** Options of one `train` call. */
export interface TrainOptions {
  /** Learning rate for this call; default the config's. */
  learningRate?: number;
  /** Items to draw shared negatives from (uniformly); default the other items of the batch. */
  negativePool?: readonly ItemRef[];
  /**
   * Run the step as a series of short tasks, letting the page run between them (for the main
   * thread, where a whole step is a long task). Same result; costs a second forward pass. Default false.
   */
  sliced?: boolean;
}

/** Options of `AttentionModel.score`. */
export interface ScoreOptions {
  /**
   * Cut a call that runs long into tasks (the input, then each block of the visitor's encoder),
   * for the page's main thread: the first calls run code the browser is still compiling. A call
   * that is quick runs at once. Same result. Default false.
   */
  sliced?: boolean;
}

/** What one `train` call did. */
export interface TrainResult {
  /** Mean loss over the batch (after the step's forward pass). */
  loss: number;
  /** Positive targets the step learned from. */
  targets: number;
}

/** Weight quantisation of `save()`. */
export type Quantization = 'float32' | 'float16' | 'int8';

/** The model: score candidates for a visitor, learn from their log, save, dispose. */
export interface AttentionModel {
  /** The full config in use. */
  readonly config: Readonly<ModelConfig>;
  /** Trainable parameter count. */
  readonly numParams: number;
  /** Scores of `candidates` (higher = more likely to get attention) given the visitor's `history`, oldest first. */
  score(history: readonly AttentionEvent[], candidates: readonly (ItemRef | string)[], options?: ScoreOptions): Promise<Float32Array>;
  /** One optimisation step on a batch of visitor logs (each oldest first). */
  train(sequences: readonly (readonly AttentionEvent[])[], options?: TrainOptions): Promise<TrainResult>;
  /** Serialises config and weights into one compact binary; default quantisation `float16`. */
  save(quantization?: Quantization): Uint8Array;
  /**
   * The bytes of `save()`, read and written a weight at a time with the page let run between
   * weights (for the main thread, where reading every weight at once is a long task).
   */
  saveSliced(quantization?: Quantization): Promise<Uint8Array>;
  /** Frees every tensor the model holds; the model is unusable afterwards. */
  dispose(): void;
}

/** The small JSON file that points a page at trained weights (`modelUrl`). */
export interface ModelManifest {
  /** Always `attnflow-model`. */
  format: 'attnflow-model';
  /** Manifest version; 1. */
  version: 1;
  /** Weights file, relative to the manifest. */
  weights: string;
  /** Size of the weights file, bytes. */
  bytes: number;
  /** Quantisation of the weights. */
  quantization: Quantization;
  /** Trainable parameter count. */
  numParams: number;
  /** The config the weights belong to. */
  config: ModelConfig;
  /** Free-form notes from training (data size, validation metrics, time). */
  training?: Record<string, unknown>;
}
