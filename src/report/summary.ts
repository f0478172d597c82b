/**
 * The period a report covers and what the device's log says about it: periods are runs of
 * `periodDays` UTC days counted from the epoch, so every device of a site cuts time alike; a report
 * covers one period that has ended, and its summary is made from that period's views only.
 */
import { isAttended } from '../rules';
import type { ItemRecord } from '../types';
import type { ContainerView, PeriodItem, PeriodSummary } from './types';
import { utcDay } from './values';

const DAY_MS = 864e5;

/** The period that holds epoch ms `ms`, for periods of `days` UTC days. */
export const periodOf = (ms: number, days: number): number => Math.floor(Math.floor(ms / DAY_MS) / days);

/** The first and the end (exclusive) epoch ms of `period`. */
export function periodRange(period: number, days: number): [number, number] {
  return [period * days * DAY_MS, (period + 1) * days * DAY_MS];
}

/** The day a report on `period` carries: its last UTC day, `YYYY-MM-DD`. */
export const periodDay = (period: number, days: number): string => utcDay(periodRange(period, days)[1] - DAY_MS);

/** What a summary reads of a view: its deepest scroll and its item records. */
export interface SummaryView {
  scrollDepth: number;
  items: readonly ItemRecord[];
}

/**
 * The summary of a period's views: each item on screen (visible or given attention) once, its counts
 * summed over the views (a view counts an item attended by the attended rule, skipped by the record's
 * flag); each view's depth; the container views as given.
 */
export function summarize(views: Iterable<SummaryView>, containers: readonly ContainerView[] = []): PeriodSummary {
  const items = new Map<string, PeriodItem>();
  const depths: number[] = [];
  for (const v of views) {
    depths.push(v.scrollDepth);
    for (const r of v.items) {
      if (!(r.visibleMs > 0 || r.attentionMs > 0)) continue;
      let it = items.get(r.itemId);
      if (!it) items.set(r.itemId, (it = { itemId: r.itemId, views: 0, viewable: 0, attended: 0, skipped: 0, clicks: 0, attentionMs: 0 }));
      it.views++;
      it.viewable += +r.viewable;
      it.attended += +isAttended(r);
      it.skipped += +(r.skipped && !isAttended(r));
      it.clicks += r.clicks;
      it.attentionMs += r.attentionMs;
    }
  }
  return { items: [...items.values()], depths, containers: [...containers] };
}

/**
 * One view's personalized container, as the device keeps it until the period is reported:
 * [epoch day, viewId, container, arm, the container's item ids].
 */
export type ContainerEntry = [number, string, string, 'p' | 'h', string[]];

/**
 * The container views of the kept `entries` whose view is in `records` (viewId → its item records):
 * each with the attention its container's items received in that view.
 */
export function containerViews(entries: readonly ContainerEntry[], records: ReadonlyMap<string, readonly ItemRecord[]>): ContainerView[] {
  const out: ContainerView[] = [];
  for (const [, viewId, container, arm, ids] of entries) {
    const items = records.get(viewId);
    if (!items) continue;
    out.push({ container, arm, attentionMs: items.reduce((ms, r) => ms + (ids.includes(r.itemId) ? r.attentionMs : 0), 0) });
  }
  return out;
}
