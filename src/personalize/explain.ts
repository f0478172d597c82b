/** Puts a ranking decision into plain words for a "why am I seeing this?" affordance. */
import { isAttended } from '../rules';
import { topicAffinities } from './profile';
import type { Explanation, RankItem, VisitorProfile } from './types';

/** What is known about the item's place on the page. */
export interface ExplainContext {
  /** Its score, 0..1 within its container; default 0.5. */
  score?: number;
  /** Exploration put it where it is. */
  explored?: boolean;
  /** The site pinned it. */
  kept?: boolean;
  /** Position after personalization. */
  rank?: number;
  /** Position in the page's own order. */
  originalRank?: number;
}

/** Explains `item` from the visitor's profile and the decision that placed it. */
export function explainItem(item: RankItem, profile: VisitorProfile, context: ExplainContext = {}): Explanation {
  const affinity = topicAffinities(profile);
  const drivers = item.topics
    .map((topic) => {
      const t = profile.topics[topic];
      return {
        topic,
        affinity: round3(affinity[topic] ?? 0),
        attentionMs: Math.round(t?.attentionMs ?? 0),
        attended: t?.attended ?? 0,
        skipped: t?.skipped ?? 0,
      };
    })
    .sort((a, b) => b.affinity - a.affinity || b.attentionMs - a.attentionMs);

  const because: string[] = [];
  if (context.kept) because.push('Pinned in place by the site');
  if (context.explored) because.push('Something new: shown to explore, so your page does not narrow to one topic');
  for (const d of drivers) {
    if (d.affinity > 0 && d.attended > 0) {
      because.push(`You read ${d.attended} ${d.topic} ${d.attended === 1 ? 'item' : 'items'} (${seconds(d.attentionMs)} of attention)`);
    } else if (d.affinity > 0) {
      because.push(`You looked at ${d.topic} items for ${seconds(d.attentionMs)}`);
    } else if (d.affinity < 0) {
      because.push(`You passed over ${d.skipped} ${d.topic} ${d.skipped === 1 ? 'item' : 'items'}, so it ranks lower`);
    }
  }
  const own = profile.items[item.id];
  if (own && isAttended(own)) because.push(`You already spent ${seconds(own.attentionMs)} on this item`);
  else if (own?.skipped) because.push(`You passed over this item ${own.skipped === 1 ? 'once' : `${own.skipped} times`}`);
  if (!because.length) {
    because.push(
      profile.totals.items
        ? 'Nothing you read shares its topics: it keeps an ordinary place'
        : 'Nothing is known about you yet: shown in the site’s own order',
    );
  }

  // The most attended items of its topics, from the log and from the page.
  const attention = new Map<string, number>();
  for (const t of item.topics) for (const [id, ms] of profile.topics[t]?.top ?? []) attention.set(id, Math.max(ms, attention.get(id) ?? 0));
  for (const [id, s] of Object.entries(profile.items))
    if (isAttended(s) && s.topics.some((t) => item.topics.includes(t))) attention.set(id, s.attentionMs);
  attention.delete(item.id);
  const similar = [...attention]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([id]) => id);

  const out: Explanation = {
    itemId: item.id,
    score: context.score ?? 0.5,
    topics: [...item.topics],
    because,
    drivers,
    similar,
    explored: Boolean(context.explored),
    kept: Boolean(context.kept),
  };
  if (context.rank !== undefined) out.rank = context.rank;
  if (context.originalRank !== undefined) out.originalRank = context.originalRank;
  return out;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
