/**
 * EB-NeRD sample: rank the clicked article among the articles in view, from the user's history.
 *
 * Impressions are taken in time order. The first half trains the model (with every user's reading
 * history, which precedes all impressions); the second half is evaluated. For an evaluated
 * impression the user's history is everything of theirs before it: past reads from the history
 * file and, from earlier impressions, the articles they opened (with read time and scroll of that
 * article) and the ones they had in view but left (seen-but-skipped).
 *
 * Two inputs are compared, each with the same model code trained the same way:
 *  - unweighted: the articles read, in order, no attention features, no skipped items;
 *  - weighted: the same plus read time and scroll as attention features, and skipped items.
 * A rule without learning is reported too: candidates already in the history are pushed down,
 * by a constant (unweighted), by how thoroughly they were read (read-time), or by that and by
 * having been seen but skipped (weighted).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createNetwork } from '../../src/model/index';
import { eventFeatures, FEATURES, ItemCoder, codeList, seqBatch, type ItemCode, type KeySequence } from '../../src/model/encode';
import { mulberry32 } from '../../src/model/hash';
import { useNodeBackend } from '../../src/offline/node-backend';
import type { Network } from '../../src/model/network';
import { fit } from '../../src/offline/trainer';
import type { AttentionEvent } from '../../src/model/types';

interface Behavior {
  impression_id: number;
  impression_time: string;
  article_ids_inview: number[];
  article_ids_clicked: number[];
  user_id: number;
  next_read_time: number | null;
  next_scroll_percentage: number | null;
}
interface History {
  user_id: number;
  impression_time_fixed: string[];
  article_id_fixed: number[];
  read_time_fixed: (number | null)[];
  scroll_percentage_fixed: (number | null)[];
}

interface Ev extends AttentionEvent {
  time: number;
  /** Scroll depth reached, 0..1, or undefined. */
  scroll?: number;
}

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/** Attention of one read: read time scaled by how far the reader scrolled (unknown scroll counts half). */
function readAttentionMs(readS: number | null, scroll: number | null): number {
  const s = scroll == null ? 0.5 : Math.min(1, Math.max(0, scroll / 100));
  return Math.max(0, readS ?? 0) * 1000 * (0.25 + 0.75 * s);
}

export interface RankMetrics {
  auc: number;
  mrr: number;
  ndcg5: number;
  ndcg10: number;
  hr1: number;
  n: number;
}

/** Metrics of one impression from candidate scores and click labels, ties broken at random. */
export function impressionMetrics(scores: ArrayLike<number>, clicked: ArrayLike<boolean>, rand: () => number): RankMetrics {
  const n = scores.length;
  // Random tie-breaking: a random jitter below the smallest score gap decides equal scores.
  const order = Array.from({ length: n }, (_, i) => i);
  const jitter = order.map(() => rand());
  order.sort((a, b) => scores[b] - scores[a] || jitter[b] - jitter[a]);
  let _pos = 0;
  let negs = 0;
  let pairs = 0;
  let good = 0;
  let mrr = 0;
  let dcg5 = 0;
  let dcg10 = 0;
  let idcg5 = 0;
  let idcg10 = 0;
  let nPos = 0;
  for (let i = 0; i < n; i++) if (clicked[i]) nPos++;
  for (let r = 0; r < n; r++) {
    const i = order[r];
    if (clicked[i]) {
      _pos++;
      if (mrr === 0) mrr = 1 / (r + 1);
      const g = 1 / Math.log2(r + 2);
      if (r < 5) dcg5 += g;
      if (r < 10) dcg10 += g;
      good += n - nPos - negs; // negatives ranked below this positive
      pairs += n - nPos;
    } else negs++;
  }
  for (let r = 0; r < nPos; r++) {
    if (r < 5) idcg5 += 1 / Math.log2(r + 2);
    if (r < 10) idcg10 += 1 / Math.log2(r + 2);
  }
  return {
    auc: pairs ? good / pairs : 0.5,
    mrr,
    ndcg5: idcg5 ? dcg5 / idcg5 : 0,
    ndcg10: idcg10 ? dcg10 / idcg10 : 0,
    hr1: clicked[order[0]] ? 1 : 0,
    n: 1,
  };
}

function mean(list: RankMetrics[]): RankMetrics {
  const out: RankMetrics = { auc: 0, mrr: 0, ndcg5: 0, ndcg10: 0, hr1: 0, n: list.length };
  for (const m of list) {
    out.auc += m.auc;
    out.mrr += m.mrr;
    out.ndcg5 += m.ndcg5;
    out.ndcg10 += m.ndcg10;
    out.hr1 += m.hr1;
  }
  for (const k of ['auc', 'mrr', 'ndcg5', 'ndcg10', 'hr1'] as const) out[k] /= Math.max(1, list.length);
  return out;
}

function line(name: string, m: RankMetrics): string {
  return `${name} AUC=${m.auc.toFixed(4)} MRR=${m.mrr.toFixed(4)} NDCG@5=${m.ndcg5.toFixed(4)} NDCG@10=${m.ndcg10.toFixed(4)} HR@1=${m.hr1.toFixed(4)} impressions=${m.n}`;
}

/** Each user's events before `time`, oldest first. */
function eventsBefore(all: Ev[], time: number): Ev[] {
  let hi = 0;
  while (hi < all.length && all[hi].time < time) hi++;
  return all.slice(0, hi);
}

function toKeySeq(events: Ev[], weighted: boolean, keyOf: (id: string) => number): KeySequence {
  const used = weighted ? events : events.filter((e) => !e.skipped);
  const keys = new Int32Array(used.length);
  const features = new Float32Array(used.length * FEATURES);
  const skipped = new Uint8Array(used.length);
  const views = new Int32Array(used.length);
  used.forEach((e, i) => {
    keys[i] = keyOf(e.itemId);
    if (weighted) eventFeatures(e, features, i * FEATURES);
    skipped[i] = e.skipped ? 1 : 0;
    views[i] = e.viewId ? Number(e.viewId) : -1 - i;
  });
  return { keys, features, skipped, views };
}

export async function runEbnerd(dir: string, o: { seed: number; backend: 'wasm' | 'cpu' }): Promise<void> {
  const err = (s: string): void => void process.stderr.write(s + '\n');
  const behaviors = readJsonl<Behavior>(path.join(dir, 'ebnerd-sample-behaviors.jsonl'));
  const histories = readJsonl<History>(path.join(dir, 'ebnerd-sample-history.jsonl'));
  behaviors.sort((a, b) => Date.parse(a.impression_time) - Date.parse(b.impression_time) || a.impression_id - b.impression_id);
  const cut = Math.floor(behaviors.length / 2);
  const cutTime = Date.parse(behaviors[cut].impression_time);

  // Every user's events in time order.
  const byUser = new Map<number, Ev[]>();
  const add = (u: number, e: Ev): void => {
    let l = byUser.get(u);
    if (!l) byUser.set(u, (l = []));
    l.push(e);
  };
  for (const h of histories) {
    h.article_id_fixed.forEach((a, i) => {
      const scroll = h.scroll_percentage_fixed[i];
      add(h.user_id, {
        itemId: String(a),
        time: Date.parse(h.impression_time_fixed[i]),
        attentionMs: readAttentionMs(h.read_time_fixed[i], scroll),
        clicks: 1,
      });
    });
  }
  for (const b of behaviors) {
    const t = Date.parse(b.impression_time);
    const clicked = new Set(b.article_ids_clicked);
    for (const a of b.article_ids_inview) {
      if (!clicked.has(a)) add(b.user_id, { itemId: String(a), time: t, skipped: true, viewId: String(b.impression_id) });
    }
    for (const a of b.article_ids_clicked) {
      // The read of the opened article happens after the impression.
      add(b.user_id, {
        itemId: String(a),
        time: t + 1,
        attentionMs: readAttentionMs(b.next_read_time, b.next_scroll_percentage),
        clicks: 1,
        viewId: String(b.impression_id),
      });
    }
  }
  for (const l of byUser.values()) l.sort((a, b) => a.time - b.time);
  const testImpressions = behaviors.slice(cut);
  err(
    `ebnerd: ${behaviors.length} impressions, ${byUser.size} users; training on events before ${new Date(cutTime).toISOString()}, evaluating ${testImpressions.length} impressions`,
  );

  // Rule without learning: articles already in the history go down.
  const rand = mulberry32(o.seed ^ 0xeb);
  const ruleRuns: Record<string, RankMetrics[]> = { unweighted: [], 'read-time': [], weighted: [] };
  for (const b of testImpressions) {
    const hist = eventsBefore(byUser.get(b.user_id) ?? [], Date.parse(b.impression_time));
    const clicked = b.article_ids_inview.map((a) => b.article_ids_clicked.includes(a));
    for (const mode of ['unweighted', 'read-time', 'weighted'] as const) {
      const seen = new Map<string, number>();
      for (const e of hist) {
        if (mode !== 'weighted' && e.skipped) continue;
        const w = mode === 'unweighted' ? 1 : e.skipped ? 0.5 : 0.5 + Math.min(1, (e.attentionMs ?? 0) / 30000);
        seen.set(e.itemId, (seen.get(e.itemId) ?? 0) + w);
      }
      const scores = b.article_ids_inview.map((a) => -(seen.get(String(a)) ?? 0));
      ruleRuns[mode].push(impressionMetrics(scores, clicked, rand));
    }
  }

  const backend = await useNodeBackend(o.backend);
  const results: string[] = [];
  for (const mode of ['unweighted', 'weighted'] as const) {
    const weighted = mode === 'weighted';
    const net = createNetwork({
      dim: 32,
      maxLen: 50,
      blocks: 2,
      dropout: 0.3,
      idBuckets: 16384,
      topicBuckets: 0,
      loss: 'bce',
      negatives: 64,
      skippedNegatives: weighted ? 8 : 0,
      learningRate: 2e-3,
      seed: o.seed,
    });
    const coder = new ItemCoder(net.config);
    const keyIndex = new Map<string, number>();
    const codes: ItemCode[] = [];
    const keyOf = (id: string): number => {
      let k = keyIndex.get(id);
      if (k === undefined) {
        keyIndex.set(id, (k = codes.length));
        codes.push(coder.code(id));
      }
      return k;
    };
    // Training sequences: every user's events before the cut, in windows of maxLen + 1.
    const sequences: KeySequence[] = [];
    for (const events of byUser.values()) {
      const before = eventsBefore(events, cutTime);
      for (let s = 0; s < before.length; s += net.config.maxLen) {
        const seq = toKeySeq(before.slice(Math.max(0, s - 1), s + net.config.maxLen), weighted, keyOf);
        if (seq.keys.length >= 2) sequences.push(seq);
      }
    }
    for (const b of testImpressions) for (const a of b.article_ids_inview) keyOf(String(a));
    const res = fit(net, { sequences, codes, tokensPerBatch: 2048, maxEpochs: 30, warmupSteps: 20, seed: o.seed });
    const metrics: RankMetrics[] = [];
    const r2 = mulberry32(o.seed ^ 0xeb);
    for (const b of testImpressions) {
      const hist = eventsBefore(byUser.get(b.user_id) ?? [], Date.parse(b.impression_time));
      metrics.push(
        impressionMetrics(
          scoreImpression(net, hist, b.article_ids_inview, weighted, keyOf, codes),
          b.article_ids_inview.map((a) => b.article_ids_clicked.includes(a)),
          r2,
        ),
      );
    }
    err(
      `ebnerd model (${mode}): ${sequences.length} training windows, ${res.epochs} epochs, loss ${res.history.at(-1)?.loss.toFixed(4)}, backend ${backend}`,
    );
    results.push(line(`model ${mode}`, mean(metrics)));
    net.dispose();
  }
  console.log(line('rule unweighted', mean(ruleRuns.unweighted)));
  console.log(line('rule read-time', mean(ruleRuns['read-time'])));
  console.log(line('rule weighted', mean(ruleRuns.weighted)));
  for (const r of results) console.log(r);
}

function scoreImpression(
  net: Network,
  hist: Ev[],
  inview: number[],
  weighted: boolean,
  keyOf: (id: string) => number,
  codes: ItemCode[],
): Float32Array {
  const c = net.config;
  const seq = toKeySeq(hist, weighted, keyOf);
  const n = seq.keys.length;
  const { batch } = seqBatch([seq], [n], (k) => codes[k], c.maxLen);
  const cands = codeList(inview.map((a) => codes[keyOf(String(a))]));
  return net.score(batch, cands, inview.length);
}
