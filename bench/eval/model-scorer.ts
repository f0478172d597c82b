/** The attention model as a scorer of the protocol. */
import { codeList, seqBatch, type ItemCode } from '../../src/model/encode';
import type { Network } from '../../src/model/network';
import { historyFor, type Scorer, type Split } from './protocol';

/** Scores with `net`, batching users of similar history length together. */
export function modelScorer(net: Network, split: Split, codes: readonly ItemCode[], usersPerBatch = 512): Scorer {
  const c = net.config;
  const codeOf = (k: number): ItemCode => codes[k];
  return (rows, stage, cands, C) => {
    const out = new Float32Array(rows.length * C);
    const hist = Array.from(rows, (r) => historyFor(split, split.evalUsers[r], stage));
    const order = Array.from(rows.keys()).sort((a, b) => Math.min(c.maxLen, hist[a].length) - Math.min(c.maxLen, hist[b].length));
    for (let s = 0; s < order.length; s += usersPerBatch) {
      const part = order.slice(s, s + usersPerBatch);
      const seqs = part.map((i) => ({ keys: hist[i] }));
      const lengths = part.map((i) => hist[i].length);
      const { batch } = seqBatch(seqs, lengths, codeOf, c.maxLen, c.itemVectorDim);
      const list: ItemCode[] = [];
      for (const i of part) for (let j = 0; j < C; j++) list.push(codes[cands[rows[i] * C + j]]);
      const scores = net.score(batch, codeList(list, c.itemVectorDim), C);
      part.forEach((i, p) => out.set(scores.subarray(p * C, (p + 1) * C), i * C));
    }
    return out;
  };
}
