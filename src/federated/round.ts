/** What a device reads about the open federated round (`GET /round` of the collector), and its check. */

/** What devices read at `GET /round`. */
export interface RoundInfo {
  format: 'attnflow-round';
  version: 1;
  round: number;
  /**
   * 'statistics': the round a new model starts with, where a device sends counts of what it read
   * (federated/statistics.ts) instead of a model update; absent: a training round.
   */
  kind?: 'statistics';
  /** A statistics round takes counts scaled to norm 1 (true: under noise), or plain counts. */
  scaled?: boolean;
  clip: number;
  noise: 'central' | 'local';
  /** The deviation of a device's own noise (`local`), z·clip. */
  localStd?: number;
  sampleRate: number;
  steps: number;
  learningRate: number;
  /** The public item list local training draws negatives from. */
  items: { itemId: string; topics: string[] }[];
  /** When the round closes at the latest (ISO time). */
  deadline: string;
}

/** `x` as a round's description, or undefined when it is not one (a device then sits the round out). */
export function parseRoundInfo(x: unknown): RoundInfo | undefined {
  const r = x as RoundInfo;
  const num = (v: unknown, ok: (n: number) => boolean) => typeof v === 'number' && Number.isFinite(v) && ok(v);
  if (r?.format !== 'attnflow-round' || r.version !== 1) return undefined;
  if (!num(r.round, (n) => Number.isInteger(n) && n >= 1)) return undefined;
  if (r.kind !== undefined && !(r.kind === 'statistics' && typeof r.scaled === 'boolean')) return undefined;
  if (!num(r.clip, (n) => n > 0) || !num(r.sampleRate, (n) => n > 0 && n <= 1)) return undefined;
  if (!num(r.steps, (n) => Number.isInteger(n) && n >= 1 && n <= 100) || !num(r.learningRate, (n) => n > 0 && n <= 100)) return undefined;
  if (r.noise !== 'central' && !(r.noise === 'local' && num(r.localStd, (n) => n >= 0))) return undefined;
  if (!Array.isArray(r.items) || !r.items.every((i) => i && typeof i.itemId === 'string' && Array.isArray(i.topics))) return undefined;
  return r;
}
