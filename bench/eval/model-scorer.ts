/** The attention model as a scorer of the protocol. */
import type { ItemCode } from '../../src/model/encode';
import type { Network } from '../../src/model/network';
import { historyFor, type Scorer, type Split } from '../../src/offline/eval-protocol';
import { modelScorerFor } from '../../src/offline/score-split';

/** Scores with `net`, the history of each stage as the protocol defines it. */
export function modelScorer(net: Network, split: Split, codes: readonly ItemCode[]): Scorer {
  return modelScorerFor(net, (u, stage) => ({ keys: historyFor(split, u, stage) }), split, codes);
}
