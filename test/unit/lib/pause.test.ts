import { afterEach, describe, expect, it, vi } from 'vitest';
import { pacer, runWithin } from '../../../src/lib/pause';

const g = globalThis as { document?: { visibilityState: string } };

/** A page whose visibility the test sets, with its timers faked. */
function page(visibilityState = 'visible') {
  g.document = { visibilityState };
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
}

afterEach(() => {
  delete g.document;
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Whether `p` has settled after the microtasks and tasks now queued (timers stay where they are). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe('pacer', () => {
  it('after a part that ran long on a visible page, makes the next wait backOff times as long, at most 100 ms', async () => {
    page();
    let t = 0;
    const pace = pacer({ backOff: 3, now: () => t });
    t += 10; // a busy part
    const wait = pace();
    await vi.advanceTimersByTimeAsync(29);
    expect(await settled(wait)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(wait)).toBe(true);

    t += 200; // a very busy one
    const capped = pace();
    await vi.advanceTimersByTimeAsync(99);
    expect(await settled(capped)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(capped)).toBe(true);
  });

  it('after a short part, or on a hidden page or off the page, is only a task of its own (no timer)', async () => {
    page();
    let t = 0;
    const pace = pacer({ backOff: 3, now: () => t });
    t += 3;
    expect(await settled(pace())).toBe(true);
    expect(vi.getTimerCount()).toBe(0);

    g.document!.visibilityState = 'hidden'; // timers there wait a second or more
    t += 50;
    expect(await settled(pace())).toBe(true);

    delete g.document; // a worker
    t += 50;
    expect(await settled(pace())).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('with the fastest times of earlier runs, counts a part busy only when it also took twice its fastest', async () => {
    page();
    let t = 0;
    const best: number[] = [];
    const run = async (costs: number[]) => {
      const pace = pacer({ backOff: 1, best, now: () => t });
      const waits: boolean[] = [];
      for (const cost of costs) {
        t += cost;
        const p = pace();
        const waited = !(await settled(p));
        await vi.advanceTimersByTimeAsync(100);
        await p;
        waits.push(waited);
      }
      return waits;
    };
    expect(await run([20, 3, 8])).toEqual([true, false, true]); // cold: every part over 4 ms
    expect(best).toEqual([20, 3, 8]);
    expect(await run([12, 3, 15])).toEqual([false, false, false]); // long by nature, not busy
    expect(best).toEqual([12, 3, 8]);
    expect(await run([30, 9, 8])).toEqual([true, true, false]); // over twice their fastest
  });
});

describe('runWithin', () => {
  /** Parts that each take `costs[i]` ms of the clock, logging as they run. */
  function setup() {
    let t = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => t);
    const log: string[] = [];
    function* parts(costs: number[]): Generator<void, string, void> {
      for (let i = 0; i < costs.length; i++) {
        if (i > 0) yield;
        t += costs[i]!;
        log.push(`p${i}`);
      }
      return 'done';
    }
    return { log, parts };
  }

  it('runs quick parts back to back in one task', async () => {
    page();
    const { log, parts } = setup();
    const run = runWithin(parts([1, 1, 1]), 4);
    expect(log).toEqual(['p0', 'p1', 'p2']); // before anything else could run
    expect(await run).toBe('done');
  });

  it('cuts where the task has run past its budget, and backs off after a busy part', async () => {
    page();
    const { log, parts } = setup();
    const run = runWithin(parts([1, 1, 2, 1, 9, 1]), 4);
    expect(log).toEqual(['p0', 'p1', 'p2']); // 4 ms: the rest waits for a task of its own
    expect(await settled(run)).toBe(false);
    expect(log).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']); // 10 ms in that task: a busy part
    await vi.advanceTimersByTimeAsync(9);
    expect(await settled(run)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await run).toBe('done');
    expect(log).toHaveLength(6);
  });

  it('ends the work when what it runs on is gone, running its finally blocks', async () => {
    const { parts } = setup();
    let alive = true;
    let closed = false;
    function* work(): Generator<void, string, void> {
      try {
        return yield* parts([5, 5, 5]);
      } finally {
        closed = true;
      }
    }
    const run = runWithin(work(), 4, () => alive);
    alive = false;
    await expect(run).rejects.toThrow('the model was disposed');
    expect(closed).toBe(true);
  });
});
