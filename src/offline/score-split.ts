/** The model as a scorer of the protocol (offline evaluation and the training CLI). */
import { codeList, seqBatch, type ItemCode, type KeySequence } from '../model/encode';
import type { Network } from '../model/network';
import type { Scorer, Split } from './eval-protocol';

/**
 * Scores with `net`; `history(u, stage)` gives user u's input sequence for a stage. Users of
 * similar history length are batched together so padding stays small.
 */
export function modelScorerFor(
  net: Network,
  history: (u: number, stage: 'valid' | 'test') => KeySequence,
  split: Split,
  codes: readonly ItemCode[],
  usersPerBatch = 512,
): Scorer {
  const c = net.config;
  const codeOf = (k: number): ItemCode => codes[k];
  return (rows, stage, cands, C) => {
    const out = new Float32Array(rows.length * C);
    const hist = Array.from(rows, (r) => history(split.evalUsers[r], stage));
    const len = (i: number): number => Math.min(c.maxLen, hist[i].keys.length);
    const order = Array.from(rows.keys()).sort((a, b) => len(a) - len(b));
    for (let s = 0; s < order.length; s += usersPerBatch) {
      const part = order.slice(s, s + usersPerBatch);
      const { batch } = seqBatch(
        part.map((i) => hist[i]),
        part.map((i) => hist[i].keys.length),
        codeOf,
        c.maxLen,
        c.itemVectorDim,
      );
      const list: ItemCode[] = [];
      for (const i of part) for (let j = 0; j < C; j++) list.push(codes[cands[rows[i] * C + j]]);
      const scores = net.score(batch, codeList(list, c.itemVectorDim), C);
      part.forEach((i, p) => out.set(scores.subarray(p * C, (p + 1) * C), i * C));
    }
    return out;
  };
}
