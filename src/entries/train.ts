/**
 * attnflow-train: site-wide pretraining. Trains the attention model on a site's own consented
 * logs with the same code the browser runs, and writes `model.json` + `weights.bin` that a page
 * loads through the `modelUrl` option (each browser then fine-tunes on-device).
 *
 *   attnflow-train --data FILE --out DIR [--minutes 15] [--quantization int8|float16|float32]
 *
 * FILE is either `user item` lines (each user's lines in time order, like the offline evaluation
 * data) or JSON lines, one visitor per line: an array of attention events, or `{ "events": [...] }`.
 * Per visitor the last positive event is held out to pick the best checkpoint (HR/NDCG@10 against
 * 100 sampled items the visitor never touched).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { eventFeatures, FEATURES, ItemCoder, type ItemCode, type KeySequence } from '../model/encode';
import { offlineConfig } from '../model/config';
import { createNetwork } from '../model/index';
import { modelScorerFor } from '../offline/score-split';
import { useNodeBackend } from '../offline/node-backend';
import { candidates, evaluate, parsePairs, splitLastTwo, type Dataset } from '../offline/eval-protocol';
import { weightShapes } from '../model/network';
import { encodeWeights } from '../model/serialize';
import { fit } from '../offline/trainer';
import type { AttentionEvent, ModelManifest, Quantization } from '../model/types';

const USAGE = `usage: attnflow-train --data FILE --out DIR [options]
  --minutes N         training time budget (default 15)
  --quantization Q    int8 | float16 | float32 (default int8)
  --dim N             vector width (default 64)
  --buckets N         id hash buckets (default: next power of two ≥ 4 × items, at least 1024)
  --epochs N          at most N epochs (default 200)
  --seed N            seed (default 1)
  --backend B         wasm | cpu (default wasm)`;

interface Loaded {
  ds: Dataset;
  /** Attention features per user (JSON lines input only), aligned with ds.users. */
  features?: Float32Array[];
}

function loadData(file: string): Loaded {
  const text = readFileSync(file, 'utf8');
  const first = text.trimStart()[0];
  if (first !== '[' && first !== '{') return { ds: parsePairs(text) };
  const itemKey = new Map<string, number>();
  const itemIds: string[] = [];
  const users: Int32Array[] = [];
  const features: Float32Array[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const parsed = JSON.parse(line) as AttentionEvent[] | { events: AttentionEvent[] };
    // Skipped items are not interactions the protocol ranks; they stay out of the offline data.
    const events = (Array.isArray(parsed) ? parsed : parsed.events).filter((e) => e && typeof e.itemId === 'string' && !e.skipped);
    const keys = new Int32Array(events.length);
    const f = new Float32Array(events.length * FEATURES);
    events.forEach((e, i) => {
      let k = itemKey.get(e.itemId);
      if (k === undefined) {
        itemKey.set(e.itemId, (k = itemIds.length));
        itemIds.push(e.itemId);
      }
      keys[i] = k;
      eventFeatures(e, f, i * FEATURES);
    });
    users.push(keys);
    features.push(f);
  }
  return { ds: { users, numItems: itemIds.length, itemIds }, features };
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      data: { type: 'string' },
      out: { type: 'string' },
      minutes: { type: 'string', default: '15' },
      quantization: { type: 'string', default: 'int8' },
      dim: { type: 'string', default: '64' },
      buckets: { type: 'string' },
      epochs: { type: 'string', default: '200' },
      seed: { type: 'string', default: '1' },
      backend: { type: 'string', default: 'wasm' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || !values.data || !values.out) {
    process.stderr.write(USAGE + '\n');
    return values.help ? 0 : 2;
  }
  const quantization = values.quantization as Quantization;
  if (!['int8', 'float16', 'float32'].includes(quantization)) {
    process.stderr.write(`attnflow-train: --quantization: expected int8, float16 or float32, received ${quantization}\n`);
    return 2;
  }
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const t0 = performance.now();
  const { ds, features } = loadData(values.data);
  // Hold out the last event per visitor for checkpoint selection; the one before it stays in training.
  const split = splitLastTwo(ds);
  for (const u of split.evalUsers) {
    const s = ds.users[u];
    split.train[u] = s.subarray(0, s.length - 1);
    split.valid[u] = s[s.length - 1];
  }
  log(`attnflow-train: ${ds.users.length} visitors, ${ds.numItems} items`);
  const backend = await useNodeBackend(values.backend as 'wasm' | 'cpu');
  const dim = Number(values.dim);
  const config = offlineConfig(ds.numItems, {
    dim,
    ffnDim: dim,
    seed: Number(values.seed),
    ...(values.buckets ? { idBuckets: Number(values.buckets) } : {}),
  });
  const net = createNetwork(config);
  const coder = new ItemCoder(net.config);
  const codes: ItemCode[] = ds.itemIds.map((id) => coder.code(id));
  const sequences: KeySequence[] = split.train.map((keys, u) => ({
    keys,
    features: features ? features[u].subarray(0, keys.length * FEATURES) : undefined,
  }));
  // 100 sampled items per visitor as in the offline protocol, fewer when the catalogue is small.
  let count = 100;
  for (const u of split.evalUsers) count = Math.min(count, ds.numItems - new Set(ds.users[u]).size);
  const valC = candidates(ds, split, 'valid', net.config.seed, Math.max(0, count));
  const C = Math.max(0, count) + 1;
  const scorer = modelScorerFor(net, (u) => sequences[u], split, codes);
  log(`model: ${net.numParams} parameters, backend ${backend}`);
  const res = fit(net, {
    sequences,
    codes,
    timeBudgetMs: Number(values.minutes) * 60_000,
    maxEpochs: Number(values.epochs),
    spectralInit: true,
    validate: count > 0 ? () => evaluate(split, valC, 'valid', scorer, net.config.seed, undefined, C).ndcg : undefined,
    log,
  });
  const valid = count > 0 ? evaluate(split, valC, 'valid', scorer, net.config.seed, undefined, C) : { hr: NaN, ndcg: NaN, users: 0 };
  const shapes = new Map(weightShapes(net.config));
  const weights = [...net.snapshot()].map(([name, data]) => [name, shapes.get(name) as number[], data] as [string, number[], Float32Array]);
  const bytes = encodeWeights({ ...net.config, trainable: true }, weights, quantization);
  mkdirSync(values.out, { recursive: true });
  writeFileSync(path.join(values.out, 'weights.bin'), bytes);
  const manifest: ModelManifest = {
    format: 'attnflow-model',
    version: 1,
    weights: 'weights.bin',
    bytes: bytes.length,
    quantization,
    numParams: net.numParams,
    config: net.config,
    training: {
      visitors: ds.users.length,
      items: ds.numItems,
      epochs: res.epochs,
      bestEpoch: res.bestEpoch,
      seconds: Math.round((performance.now() - t0) / 1000),
      heldOutCandidates: C,
      heldOutHR10: Number(valid.hr.toFixed(4)),
      heldOutNDCG10: Number(valid.ndcg.toFixed(4)),
    },
  };
  writeFileSync(path.join(values.out, 'model.json'), JSON.stringify(manifest, null, 2) + '\n');
  log(`held-out HR@10=${valid.hr.toFixed(4)} NDCG@10=${valid.ndcg.toFixed(4)}`);
  process.stdout.write(`wrote ${path.join(values.out, 'model.json')} and weights.bin (${bytes.length} bytes, ${quantization})\n`);
  net.dispose();
  return 0;
}

// Run when executed directly (tsx src/entries/train.ts, or the built bin), not when imported by tests.
const entry = process.argv[1] ? path.resolve(process.argv[1]) : '';
if (/attnflow-train(\.js)?$|[\\/]cli[\\/]train\.ts$/.test(entry)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`attnflow-train: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
