/**
 * The RDP accountant of DP-FedAvg's sampled Gaussian mechanism: log erfc against 50-digit values
 * (mpmath); one round's RDP exact without sampling, in closed form at α = 2 and 3, against numerical
 * integration (mpmath) and against dp_accounting's / TF Privacy's published test values; the (ε, δ)
 * conversion, and the ε of TF Privacy's published DP-SGD settings; composition, persistence, and the
 * noise and round planners.
 */
import { describe, expect, it } from 'vitest';
import {
  epsilonOf,
  logErfc,
  noiseMultiplierFor,
  PrivacyAccountant,
  RDP_ORDERS,
  rdpToDp,
  roundsWithin,
  sampledGaussianRdp,
} from '../../../src/federated/accountant';

/** TF Privacy's compute_dp_sgd_privacy orders: [1.25, …, 4.5] + range(5, 64) + [128, 256, 512]. */
const TF_ORDERS = [1.25, 1.5, 1.75, 2, 2.25, 2.5, 3, 3.5, 4, 4.5, ...Array.from({ length: 59 }, (_, i) => i + 5), 128, 256, 512];
/** The orders of TF Privacy's MNIST tutorial: 1.1 to 10.9 by 0.1, then 12 to 63. */
const TUTORIAL_ORDERS = [...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10), ...Array.from({ length: 52 }, (_, i) => i + 12)];

/** The RDP of `rounds` rounds at each order. */
function curve(q: number, z: number, rounds: number, orders: readonly number[]): number[] {
  return orders.map((a) => rounds * sampledGaussianRdp(q, z, a));
}

/** The classic conversion (Mironov 2017, Proposition 3): ε = min over α of rdp − log δ/(α − 1). */
function classicEpsilon(rdp: readonly number[], orders: readonly number[], delta: number): number {
  return Math.min(...orders.map((a, k) => rdp[k]! - Math.log(delta) / (a - 1)));
}

function expectRel(actual: number, expected: number, tol: number): void {
  expect(Math.abs(actual - expected) / Math.abs(expected)).toBeLessThanOrEqual(tol);
}

describe('logErfc', () => {
  it('matches 50-digit values of log erfc(x) from the left tail to x = 1e5, where erfc underflows', () => {
    const ref: [number, number][] = [
      [-5, 0.6931471805591766],
      [-0.5, 0.41903914777555956],
      [0, 0],
      [0.001, -0.0011290158896213548],
      [0.5, -0.7350111298370844],
      [1, -1.8496055099332482],
      [1.499, -3.380984181364274],
      [1.5, -3.3844920895515527],
      [2, -5.364941264616638],
      [5, -27.200889545537436],
      [30, -903.9741171106439],
      [1000, -1000007.4801207219],
      [1e5, -10000000012.08529],
    ];
    // An absolute error in log erfc is the relative error of erfc.
    for (const [x, y] of ref) expect(Math.abs(logErfc(x) - y)).toBeLessThan(1e-13 * Math.max(1, Math.abs(y)));
    expect(logErfc(Number.NEGATIVE_INFINITY)).toBe(Math.log(2));
    expect(logErfc(Number.POSITIVE_INFINITY)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('is decreasing and keeps erfc(−x) + erfc(x) = 2', () => {
    let prev = Number.POSITIVE_INFINITY;
    for (let x = -4; x <= 40; x += 0.0625) {
      const v = logErfc(x);
      expect(v).toBeLessThan(prev);
      prev = v;
      if (x > 0 && x < 6) expect(Math.exp(logErfc(-x)) + Math.exp(v)).toBeCloseTo(2, 14);
    }
  });
});

describe('sampledGaussianRdp', () => {
  it('is exactly α/(2z²) without sampling (q = 1), 0 when nobody is sampled, Infinity without noise', () => {
    for (const a of [1.25, 2, 2.7, 3.3, 20, 1024]) {
      for (const z of [0.3, 1, 2.7, 10]) expect(sampledGaussianRdp(1, z, a)).toBe(a / (2 * z * z));
      expect(sampledGaussianRdp(0, 1, a)).toBe(0);
      expect(sampledGaussianRdp(0, 0, a)).toBe(0);
      expect(sampledGaussianRdp(0.01, 0, a)).toBe(Number.POSITIVE_INFINITY);
    }
    // TF Privacy rdp_accountant_test: compute_rdp(1, 10, 1, 20) = 0.1.
    expect(sampledGaussianRdp(1, 10, 20)).toBeCloseTo(0.1, 15);
  });

  it('has the closed forms of α = 2 and α = 3 (the binomial sum written out)', () => {
    for (const q of [1e-5, 0.004, 0.01, 0.1, 0.5, 0.99]) {
      for (const z of [0.5, 1, 1.1, 4]) {
        // A₂ − 1 = q²(e^(1/z²) − 1); A₃ − 1 = 3q²(1−q)(e^(1/z²) − 1) + q³(e^(3/z²) − 1); RDP = log A_α/(α − 1).
        const a2 = q * q * Math.expm1(1 / (z * z));
        const a3 = 3 * q * q * (1 - q) * Math.expm1(1 / (z * z)) + q ** 3 * Math.expm1(3 / (z * z));
        expectRel(sampledGaussianRdp(q, z, 2), Math.log1p(a2), 1e-9);
        expectRel(sampledGaussianRdp(q, z, 3), Math.log1p(a3) / 2, 1e-9);
      }
    }
  });

  it("gives dp_accounting's and TF Privacy's published RDP of 50 rounds at q = 0.01, z = 2.5", () => {
    const orders = [1.5, 2.5, 5, 50, 100];
    // dp_accounting rdp_privacy_accountant_test (rtol 1e-4) ...
    const published = [6.5007e-4, 1.0854e-3, 2.1808e-3, 2.3846e-2, 1.6742e2];
    // ... and its formulas evaluated with SciPy 1.17 (log_ndtr for log erfc).
    const full = [0.0006500708974468719, 0.0010854180568268625, 0.0021807565623074873, 0.023846037538707288, 167.41630754841827];
    const rdp = curve(0.01, 2.5, 50, orders);
    rdp.forEach((r, k) => {
      expectRel(r, published[k]!, 1e-4);
      expectRel(r, full[k]!, 1e-9);
    });
    // TF Privacy rdp_accountant_test: compute_rdp(0.1, 2, 10, 5) ≈ 0.07737.
    expect(10 * sampledGaussianRdp(0.1, 2, 5)).toBeCloseTo(0.07737, 5);
  });

  it('matches log A_α by numerical integration (mpmath, 40 digits), fractional orders included', () => {
    const ref: [number, number, number, number][] = [
      [0.01, 1.1, 1.25, 7.928005534868165e-5],
      [256 / 60000, 1.1, 1.5, 1.7479784462924327e-5],
      [0.1, 2, 2.75, 0.003981073598504847],
      [0.5, 1, 20.5, 9.521306813753109],
      [0.9, 0.3, 2.5, 13.713288040163746],
      // Large fractional α: the series must not stop at its first (negligible) terms.
      [0.5, 100, 256.1, 0.0032218370510349874],
    ];
    for (const [q, z, a, y] of ref) expectRel(sampledGaussianRdp(q, z, a), y, 1e-7);
  });

  it('is continuous across integer orders: the two formulas agree', () => {
    for (const q of [0.004, 0.01, 0.1, 0.5, 0.9]) {
      for (const z of [0.5, 0.8, 1.1, 2]) {
        for (const a of [2, 3, 4, 10, 32, 64]) {
          const at = sampledGaussianRdp(q, z, a);
          expectRel(sampledGaussianRdp(q, z, a + 1e-10), at, 1e-9);
          expectRel(sampledGaussianRdp(q, z, a - 1e-10), at, 1e-9);
          expectRel(sampledGaussianRdp(q, z, a + 1e-4), at, 1e-3);
        }
      }
    }
  });

  it('grows with the order and the sampling rate and shrinks with the noise', () => {
    for (const q of [1e-4, 0.01, 0.3]) {
      for (const z of [0.5, 1, 3]) {
        const rdp = curve(q, z, 1, RDP_ORDERS);
        for (let k = 1; k < rdp.length; k++) expect(rdp[k]!).toBeGreaterThanOrEqual(rdp[k - 1]!);
        for (const a of [1.5, 4, 32]) {
          expect(sampledGaussianRdp(q, z * 1.1, a)).toBeLessThan(sampledGaussianRdp(q, z, a));
          expect(sampledGaussianRdp(q * 1.1, z, a)).toBeGreaterThan(sampledGaussianRdp(q, z, a));
        }
      }
    }
  });

  it('rejects a sampling rate outside [0, 1], a negative noise multiplier and an order ≤ 1, naming them', () => {
    expect(() => sampledGaussianRdp(1.5, 1, 2)).toThrow(RangeError);
    expect(() => sampledGaussianRdp(-0.1, 1, 2)).toThrow(/q \(sampling rate\)/);
    expect(() => sampledGaussianRdp(Number.NaN, 1, 2)).toThrow(/q \(sampling rate\)/);
    expect(() => sampledGaussianRdp(0.1, -1, 2)).toThrow(/z \(noise multiplier\)/);
    expect(() => sampledGaussianRdp(0.1, 1, 1)).toThrow(/order/);
    expect(() => sampledGaussianRdp(0.1, 1, 0.5)).toThrow(RangeError);
  });
});

describe('rdpToDp', () => {
  it("gives TF Privacy's hand-computed ε of pure DP: rdp 1.1 at orders 2..32, δ = 1e-5", () => {
    const orders = Array.from({ length: 31 }, (_, i) => i + 2);
    const { epsilon, order } = rdpToDp(
      orders.map(() => 1.1),
      orders,
      1e-5,
    );
    expect(epsilon).toBeCloseTo(1.32783806176, 10);
    expect(order).toBe(32);
  });

  it('gives ε = 1 at δ = 1e-6 for the Gaussian mechanism whose noise was chosen for exactly (1, 1e-6)-DP', () => {
    // TF Privacy / dp_accounting test: orders 1.001 to 99.999 by 0.001, q = 1, z = 4.530877117.
    const orders = Array.from({ length: 98999 }, (_, i) => (1001 + i) / 1000);
    expect(rdpToDp(curve(1, 4.530877117, 1, orders), orders, 1e-6).epsilon).toBeCloseTo(1, 6);
  });

  it('skips infinite orders, is 0 where the RDP is tiny, and never exceeds the classic conversion', () => {
    expect(rdpToDp([Number.POSITIVE_INFINITY, 0.5], [2, 3], 1e-5).order).toBe(3);
    expect(rdpToDp([Number.NaN, Number.POSITIVE_INFINITY], [2, 3], 1e-5)).toEqual({ epsilon: Number.POSITIVE_INFINITY, order: Number.NaN });
    expect(rdpToDp([1e-12, 1e-12], [2, 3], 1e-5).epsilon).toBe(0);
    for (const [q, z, t] of [
      [0.01, 1, 100],
      [0.001, 0.8, 10000],
      [0.1, 3, 50],
      [1, 10, 1],
    ] as const) {
      const rdp = curve(q, z, t, RDP_ORDERS);
      for (const delta of [1e-3, 1e-5, 1e-9]) {
        expect(rdpToDp(rdp, RDP_ORDERS, delta).epsilon).toBeLessThanOrEqual(classicEpsilon(rdp, RDP_ORDERS, delta));
      }
    }
  });

  it('rejects mismatched lengths, δ outside (0, 1), orders ≤ 1 and negative RDP', () => {
    expect(() => rdpToDp([1], [2, 3], 1e-5)).toThrow(/rdp/);
    expect(() => rdpToDp([1], [2], 0)).toThrow(/delta/);
    expect(() => rdpToDp([1], [2], 1)).toThrow(RangeError);
    expect(() => rdpToDp([1], [1], 1e-5)).toThrow(/order/);
    expect(() => rdpToDp([-1], [2], 1e-5)).toThrow(/rdp/);
  });
});

describe('TF Privacy reference settings', () => {
  // compute_dp_sgd_privacy_test (dp_accounting's improved conversion) and, for the same curves,
  // compute_noise_from_budget_test's target ε (the classic conversion, when that library used it):
  // n, batch, z, epochs, δ → q = batch/n, steps = ⌈epochs·n/batch⌉.
  const cases = [
    { q: 150 / 60000, z: 1.3, steps: 6000, delta: 1e-5, improved: 0.7242234026109595, order: 19, classic: 0.941870567 },
    { q: 100 / 100000, z: 1.0, steps: 30000, delta: 1e-7, improved: 1.4154988495444842, order: 13, classic: 1.70928734 },
    { q: 1024 / 1e8, z: 0.1, steps: 976563, delta: 1e-7, improved: 5907982.3113978775, order: 1.25, classic: 5907984.81339406 },
  ];

  it('reproduces compute_dp_sgd_privacy ε (improved conversion) and its optimal order', () => {
    for (const c of cases) {
      const { epsilon, order } = rdpToDp(curve(c.q, c.z, c.steps, TF_ORDERS), TF_ORDERS, c.delta);
      expectRel(epsilon, c.improved, 1e-9);
      expect(order).toBe(c.order);
    }
  });

  it('reproduces the classic-conversion ε of the same curves, which the improved one undercuts', () => {
    for (const c of cases) {
      const classic = classicEpsilon(curve(c.q, c.z, c.steps, TF_ORDERS), TF_ORDERS, c.delta);
      expectRel(classic, c.classic, 1e-8);
      expect(c.improved).toBeLessThan(classic);
    }
  });

  it("reproduces the MNIST tutorial's ε at δ = 1e-5 (classic conversion, the tutorial's orders, steps = epochs·60000 // 256)", () => {
    // tutorials/README.md: z = 1.12 → 1.00 after 1 epoch, 1.04 after 2, 2.92 after 60; z = 1.2 for 10 epochs → 1.20.
    for (const [z, epochs, eps] of [
      [1.12, 1, 1.0],
      [1.12, 2, 1.04],
      [1.12, 60, 2.92],
      [1.2, 10, 1.2],
    ] as const) {
      const rdp = curve(256 / 60000, z, Math.floor((epochs * 60000) / 256), TUTORIAL_ORDERS);
      expect(classicEpsilon(rdp, TUTORIAL_ORDERS, 1e-5)).toBeCloseTo(eps, 2);
      expect(rdpToDp(rdp, TUTORIAL_ORDERS, 1e-5).epsilon).toBeLessThan(eps - 0.25);
    }
  });

  it('gives epsilonOf for MNIST at z = 1.1 for 60 epochs and for q = 0.01, z = 1 over 10,000 rounds', () => {
    // Expected values: dp_accounting's formulas (improved conversion) over RDP_ORDERS, evaluated with SciPy 1.17.
    const mnist = epsilonOf(256 / 60000, 1.1, 14063, 1e-5);
    expectRel(mnist, 2.597079519657094, 1e-9);
    expectRel(classicEpsilon(curve(256 / 60000, 1.1, 14063, RDP_ORDERS), RDP_ORDERS, 1e-5), 3.009211172997904, 1e-9);
    expectRel(epsilonOf(0.01, 1, 10000, 1e-5), 6.719402117939218, 1e-9);
  });
});

describe('PrivacyAccountant', () => {
  it('starts at nothing spent and adds up rounds with different q and z', () => {
    const acc = new PrivacyAccountant();
    expect(acc.rounds).toBe(0);
    expect(acc.epsilon(1e-5)).toBe(0);
    acc.addRounds(0.01, 1.1, 300);
    acc.addRounds(0.05, 2);
    acc.addRounds(0.02, 0.9, 0);
    acc.addRounds(0.001, 0.7, 1000);
    expect(acc.rounds).toBe(1301);
    const sum = RDP_ORDERS.map(
      (a) => 300 * sampledGaussianRdp(0.01, 1.1, a) + sampledGaussianRdp(0.05, 2, a) + 1000 * sampledGaussianRdp(0.001, 0.7, a),
    );
    expectRel(acc.epsilon(1e-6), rdpToDp(sum, RDP_ORDERS, 1e-6).epsilon, 1e-12);
    // In one go or round by round, the same.
    const one = new PrivacyAccountant();
    one.addRounds(0.01, 1.1, 50);
    const many = new PrivacyAccountant();
    for (let t = 0; t < 50; t++) many.addRounds(0.01, 1.1);
    expectRel(many.epsilon(1e-5), one.epsilon(1e-5), 1e-12);
    expectRel(one.epsilon(1e-5), epsilonOf(0.01, 1.1, 50, 1e-5), 1e-12);
  });

  it("composes TF Privacy's heterogeneous example: q = 0 and q = 1 at z = 10, order 20 → RDP 0.1", () => {
    const acc = new PrivacyAccountant([20]);
    acc.addRounds(0, 10);
    acc.addRounds(1, 10);
    expect(acc.toJSON().rdp[0]).toBeCloseTo(0.1, 15);
  });

  it('survives a trip through JSON text, an unbounded spend included, and goes on counting alike', () => {
    const acc = new PrivacyAccountant();
    acc.addRounds(0.02, 1.3, 120);
    const back = PrivacyAccountant.fromJSON(JSON.parse(JSON.stringify(acc)));
    expect(back.rounds).toBe(120);
    expect(back.orders).toEqual(RDP_ORDERS);
    expect(back.epsilon(1e-5)).toBe(acc.epsilon(1e-5));
    back.addRounds(0.02, 1.3, 10);
    acc.addRounds(0.02, 1.3, 10);
    expect(back.toJSON()).toEqual(acc.toJSON());
    // Without orders the state is over RDP_ORDERS; custom orders travel with it.
    const { rounds, rdp } = acc.toJSON();
    expect(PrivacyAccountant.fromJSON({ rounds, rdp }).epsilon(1e-5)).toBe(acc.epsilon(1e-5));
    const custom = new PrivacyAccountant([2, 8, 32]);
    custom.addRounds(0.1, 1);
    expect(PrivacyAccountant.fromJSON(JSON.parse(JSON.stringify(custom))).orders).toEqual([2, 8, 32]);
    // No noise: infinite RDP, written as null.
    const open = new PrivacyAccountant([2, 4]);
    open.addRounds(0.1, 0);
    const text = JSON.stringify(open);
    expect(text).toContain('null');
    expect(PrivacyAccountant.fromJSON(JSON.parse(text)).epsilon(1e-5)).toBe(Number.POSITIVE_INFINITY);
  });

  it('rejects malformed state with a TypeError and bad arguments with a RangeError', () => {
    const rdp = RDP_ORDERS.map(() => 0);
    for (const bad of [
      null,
      42,
      'x',
      {},
      { rounds: -1, rdp },
      { rounds: 1.5, rdp },
      { rounds: 1, rdp: [0, 1] },
      { rounds: 1, rdp: rdp.map(() => 'a') },
      { rounds: 1, rdp: rdp.map(() => -1) },
      { rounds: 1, rdp: [0], orders: [1] },
      { rounds: 1, rdp: [0], orders: 'all' },
    ]) {
      expect(() => PrivacyAccountant.fromJSON(bad)).toThrow(TypeError);
    }
    expect(() => PrivacyAccountant.fromJSON({})).toThrow(/malformed privacy accountant state/);
    const acc = new PrivacyAccountant();
    expect(() => acc.addRounds(2, 1)).toThrow(/q \(sampling rate\)/);
    expect(() => acc.addRounds(0.1, -1)).toThrow(/z \(noise multiplier\)/);
    expect(() => acc.addRounds(0.1, 1, 1.5)).toThrow(/rounds/);
    expect(() => acc.epsilon(0)).toThrow(/delta/);
    expect(() => new PrivacyAccountant([2, 1])).toThrow(/order/);
    expect(acc.rounds).toBe(0);
  });
});

describe('epsilonOf, noiseMultiplierFor, roundsWithin', () => {
  it('ε grows with rounds and the sampling rate and shrinks with the noise; no rounds, no spend', () => {
    expect(epsilonOf(0.01, 1, 0, 1e-5)).toBe(0);
    expect(epsilonOf(0.01, 0, 0, 1e-5)).toBe(0);
    expect(epsilonOf(0.01, 0, 1, 1e-5)).toBe(Number.POSITIVE_INFINITY);
    let prev = 0;
    for (const t of [1, 10, 100, 1000, 10000]) {
      const e = epsilonOf(0.01, 1, t, 1e-5);
      expect(e).toBeGreaterThan(prev);
      prev = e;
    }
    expect(epsilonOf(0.01, 1.2, 1000, 1e-5)).toBeLessThan(epsilonOf(0.01, 1, 1000, 1e-5));
    expect(epsilonOf(0.005, 1, 1000, 1e-5)).toBeLessThan(epsilonOf(0.01, 1, 1000, 1e-5));
    expect(epsilonOf(0.01, 1, 1000, 1e-7)).toBeGreaterThan(epsilonOf(0.01, 1, 1000, 1e-5));
  });

  it('finds the smallest noise multiplier within 0.1% for a budget, and round-trips with epsilonOf', () => {
    for (const [target, q, t, delta] of [
      [0.5, 0.01, 1000, 1e-6],
      [1, 0.001, 10000, 1e-6],
      [3, 0.05, 200, 1e-5],
      [8, 0.1, 50, 1e-5],
      [2, 1, 10, 1e-5],
    ] as const) {
      const z = noiseMultiplierFor(target, q, t, delta);
      expect(epsilonOf(q, z, t, delta)).toBeLessThanOrEqual(target);
      expect(epsilonOf(q, z * 0.999, t, delta)).toBeGreaterThan(target);
      expect(roundsWithin(target, q, z, delta)).toBeGreaterThanOrEqual(t);
    }
    // TF Privacy's first compute_dp_sgd_privacy case backwards: ε 0.72422… at q = 0.0025, 6000 rounds → z = 1.3.
    const z = noiseMultiplierFor(0.7242234026109595, 150 / 60000, 6000, 1e-5);
    expect(z).toBeGreaterThanOrEqual(1.3);
    expect(z).toBeLessThanOrEqual(1.3 * 1.001);
    // Nothing to hide: the smallest multiplier searched.
    expect(noiseMultiplierFor(1, 0, 1000, 1e-5)).toBe(0.05);
    expect(noiseMultiplierFor(1, 0.01, 0, 1e-5)).toBe(0.05);
  });

  it('throws a RangeError when even z = 200 cannot meet the budget, and on bad arguments', () => {
    expect(() => noiseMultiplierFor(1e-4, 1, 10000, 1e-5)).toThrow(/no noise multiplier up to 200/);
    expect(() => noiseMultiplierFor(0, 0.01, 10, 1e-5)).toThrow(/targetEpsilon/);
    expect(() => noiseMultiplierFor(1, 1.01, 10, 1e-5)).toThrow(/q \(sampling rate\)/);
    expect(() => noiseMultiplierFor(1, 0.01, -1, 1e-5)).toThrow(/rounds/);
    expect(() => noiseMultiplierFor(1, 0.01, 10, 2)).toThrow(/delta/);
  });

  it('counts the rounds that fit in a budget: the largest T with ε ≤ target', () => {
    for (const [target, q, z, delta] of [
      [1, 0.01, 1, 1e-5],
      [3, 0.01, 1.1, 1e-6],
      [0.5, 0.05, 2, 1e-5],
    ] as const) {
      const t = roundsWithin(target, q, z, delta);
      expect(t).toBeGreaterThan(0);
      expect(epsilonOf(q, z, t, delta)).toBeLessThanOrEqual(target);
      expect(epsilonOf(q, z, t + 1, delta)).toBeGreaterThan(target);
    }
    expect(roundsWithin(0.01, 0.5, 0.5, 1e-5)).toBe(0);
    expect(roundsWithin(1, 0, 1, 1e-5)).toBe(100000);
    expect(roundsWithin(100, 0.001, 2, 1e-5, 500)).toBe(500);
    expect(roundsWithin(1, 0.01, 0, 1e-5)).toBe(0);
    expect(() => roundsWithin(1, 0.01, 1, 0)).toThrow(/delta/);
    expect(() => roundsWithin(1, 0.01, 1, 1e-5, -5)).toThrow(/maxRounds/);
  });
});
