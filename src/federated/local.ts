/**
 * A device's local training for a federated round: plain SGD steps from the round's weights on
 * the device's own log, and the change they made (dense weights, and the table rows they
 * touched). SGD, not the Adam of the visitor's own model: an update's size then follows its
 * gradient, which clipping and averaging need. The same code runs on the device and in the
 * evaluation.
 */
import type { TrainBatch } from '../model/encode';
import type { TrainStep } from '../model/step';
import type { ModelConfig } from '../model/types';
import { TABLES, weightShapes } from '../model/weights';
import type { Delta, WeightSpec } from './update';

/** How a device trains in a round (set by the collector, the same for every device). */
export interface LocalSettings {
  /** SGD steps on the device's log. */
  steps: number;
  /** SGD learning rate. */
  learningRate: number;
}

/** Every weight of a model with `config`: its shape, and whether it is a lookup table. */
export function specsOf(config: ModelConfig): Map<string, WeightSpec> {
  return new Map(weightShapes(config).map(([name, shape]) => [name, { shape, table: TABLES.includes(name) }]));
}

/**
 * `settings.steps` SGD steps on `net`, the batch of each from `batchOf(step)`; returns the change
 * they made. With `restore`, the network is put back as it was (the evaluation trains many
 * devices from one network); a single step then writes nothing into it.
 */
export function localTrain(
  net: TrainStep,
  batchOf: (step: number) => TrainBatch,
  settings: LocalSettings,
  restore = false,
): { delta: Delta; loss: number; targets: number } {
  const dense = new Map<string, Float32Array>();
  const rows = new Map<string, Map<number, Float32Array>>();
  let loss = NaN;
  let targets = 0;
  const lr = settings.learningRate;
  for (let k = 0; k < settings.steps; k++) {
    const batch = batchOf(k);
    const g = net.gradients(batch);
    if (k === 0) {
      loss = g.loss;
      targets = batch.targetPos.length;
    }
    if (!Number.isFinite(g.loss)) break;
    for (const v of g.dense.values()) for (let i = 0; i < v.length; i++) v[i]! *= -lr;
    for (const { values } of g.rows.values()) for (let i = 0; i < values.length; i++) values[i]! *= -lr;
    if (!(restore && settings.steps === 1)) net.addToWeights(g);
    for (const [name, v] of g.dense) {
      const d = dense.get(name);
      if (!d) dense.set(name, v);
      else for (let i = 0; i < v.length; i++) d[i]! += v[i]!;
    }
    for (const [name, { idx, values }] of g.rows) {
      const width = values.length / Math.max(1, idx.length);
      let m = rows.get(name);
      if (!m) rows.set(name, (m = new Map()));
      for (let r = 0; r < idx.length; r++) {
        const v = values.subarray(r * width, (r + 1) * width);
        const d = m.get(idx[r]!);
        if (!d) m.set(idx[r]!, Float32Array.from(v));
        else for (let j = 0; j < width; j++) d[j]! += v[j]!;
      }
    }
  }
  const delta: Delta = { dense, rows: new Map() };
  for (const [name, m] of rows) {
    const idx = Int32Array.from(m.keys()).sort();
    const width = m.size ? (m.get(idx[0]!) as Float32Array).length : 0;
    const values = new Float32Array(idx.length * width);
    idx.forEach((r, i) => values.set(m.get(r) as Float32Array, i * width));
    delta.rows.set(name, { idx, values });
  }
  if (restore && settings.steps > 1) {
    const back: Delta = { dense: new Map(), rows: new Map() };
    for (const [name, v] of delta.dense)
      back.dense.set(
        name,
        v.map((x) => -x),
      );
    for (const [name, { idx, values }] of delta.rows) back.rows.set(name, { idx, values: values.map((x) => -x) });
    net.addToWeights(back);
  }
  return { delta, loss, targets };
}
