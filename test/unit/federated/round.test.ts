import { describe, expect, it } from 'vitest';
import { parseRoundInfo } from '../../../src/federated/round';

const good = {
  format: 'attnflow-round',
  version: 1,
  round: 3,
  clip: 1,
  noise: 'central',
  sampleRate: 0.5,
  steps: 4,
  learningRate: 0.5,
  items: [{ itemId: 'a', topics: ['x'] }],
  deadline: '2026-12-08T00:00:00.000Z',
};

describe('a round as the device reads it', () => {
  it('is taken as the collector describes it', () => {
    expect(parseRoundInfo(good)).toEqual(good);
    expect(parseRoundInfo({ ...good, noise: 'local', localStd: 0.8 })?.localStd).toBe(0.8);
  });

  it('is sat out when anything is off: a device never trains on a round it cannot read', () => {
    for (const bad of [
      null,
      'round',
      { ...good, format: 'attnflow-model' },
      { ...good, version: 2 },
      { ...good, round: 0 },
      { ...good, round: 1.5 },
      { ...good, clip: 0 },
      { ...good, sampleRate: 0 },
      { ...good, sampleRate: 1.5 },
      { ...good, steps: 0 },
      { ...good, steps: 1000 },
      { ...good, learningRate: -1 },
      { ...good, noise: 'local' },
      { ...good, noise: 'none' },
      { ...good, items: [{ itemId: 5, topics: [] }] },
      { ...good, items: 'a,b' },
    ]) {
      expect(parseRoundInfo(bad)).toBeUndefined();
    }
  });
});
