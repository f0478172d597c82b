/**
 * Shared test data for the private reports: a seeded population of period summaries, with items of a
 * skewed popularity, long-tailed attention, clicks, skips, scroll depths and container views.
 */
import { mulberry32 } from '../../../src/model/hash';
import type { ContainerView, PeriodItem, PeriodSummary } from '../../../src/report/types';

/** The catalogue the population draws from. */
export const CATALOGUE = Array.from({ length: 40 }, (_, i) => `item-${i}`);
/** The personalized containers. */
export const CONTAINERS = ['for-you', 'more'];

/** One device's period: up to 14 items (more than K, sometimes), up to 6 views' depths and container records. */
export function device(rand: () => number): PeriodSummary {
  const chosen = new Set<number>();
  const count = Math.floor(rand() * 15);
  while (chosen.size < count) chosen.add(Math.floor(CATALOGUE.length * rand() ** 2));
  const items: PeriodItem[] = [...chosen].map((i) => {
    const views = 1 + Math.floor(rand() * 3);
    const attentionMs = rand() < 0.3 ? Math.round(rand() * 900) : Math.round(Math.exp(rand() * 12));
    const clicks = rand() < 0.15 ? 1 + Math.floor(rand() * 2) : 0;
    const attended = attentionMs >= 1000 || clicks > 0 ? 1 : 0;
    return {
      itemId: CATALOGUE[i]!,
      views,
      viewable: rand() < 0.7 ? 1 + Math.floor(rand() * views) : 0,
      attended,
      skipped: attended ? 0 : rand() < 0.6 ? 1 : 0,
      clicks,
      attentionMs,
    };
  });
  const depths = Array.from({ length: Math.floor(rand() * 7) }, () => (rand() < 0.2 ? 1 : rand()));
  const containers: ContainerView[] = Array.from({ length: Math.floor(rand() * 6) }, () => ({
    container: CONTAINERS[Math.floor(rand() * CONTAINERS.length)]!,
    arm: rand() < 0.5 ? 'p' : 'h',
    attentionMs: Math.round(Math.exp(rand() * 11)),
  }));
  return { items, depths, containers };
}

/** `n` devices from `seed`. */
export function population(n: number, seed: number): PeriodSummary[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => device(rand));
}
