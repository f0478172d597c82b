/**
 * The reports table: storing one validated report (its id is the replay guard) and reading the
 * reports of a range of days back, page by page on one snapshot.
 */
import type { ReportAnswer } from '../report/estimate';
import type { PrivateReport } from '../report/types';
import type { Db } from './db';

/** The fields of a report the collector keeps (`format` and `version` are checked, then dropped). */
export type StoredReport = Omit<PrivateReport, 'format' | 'version'>;

/**
 * Stores `report`, received on UTC day `receivedDay` (YYYY-MM-DD). Resolves true once committed, false
 * when a report with this id is already stored (a replay: nothing changes). One statement outside any
 * explicit transaction: PostgreSQL commits it on its own before answering, in a single round trip.
 */
export async function insertReport(db: Db, report: StoredReport, receivedDay: string): Promise<boolean> {
  const rows = await db.query(
    `INSERT INTO reports (id, day, epsilon, q, y, received_at)
     VALUES ($1, $2::date, $3, $4, $5, $6::timestamptz)
     ON CONFLICT (id) DO NOTHING RETURNING id`,
    [report.id, report.day, report.epsilon, report.q, report.y, `${receivedDay}T00:00:00Z`],
  );
  return rows.length === 1;
}

/** Number of stored reports, all days. */
export async function countReports(db: Db): Promise<number> {
  const rows = await db.query<{ n: number | string }>('SELECT count(*) AS n FROM reports');
  return Number(rows[0]?.n ?? 0);
}

/** Reports of a day range: what the estimator reads of each, and the number per day. */
export interface ReportsInRange {
  /** The reports in (day, id) order. */
  reports: ReportAnswer[];
  /** Reports per day, YYYY-MM-DD → count (days without reports absent). */
  perDay: Map<string, number>;
}

/** Rows fetched per statement. */
const PAGE = 5000;

interface Row {
  id: string;
  day: string;
  epsilon: number;
  q: string;
  y: number;
}

/**
 * Reads every report of the days `from`..`to` (inclusive, YYYY-MM-DD) on one snapshot, so that
 * reports stored meanwhile are either all in or all out; pages by (day, id) through the index.
 */
export async function readReports(db: Db, from: string, to: string): Promise<ReportsInRange> {
  const reports: ReportAnswer[] = [];
  const perDay = new Map<string, number>();
  await db.transaction(
    async (tx) => {
      let cursor: [string, string] | undefined;
      for (;;) {
        const rows: Row[] = cursor
          ? await tx.query<Row>(
              `SELECT id, day::text AS day, epsilon, q, y FROM reports
               WHERE (day, id) > ($1::date, $2) AND day <= $3::date ORDER BY day, id LIMIT ${PAGE}`,
              [cursor[0], cursor[1], to],
            )
          : await tx.query<Row>(
              `SELECT id, day::text AS day, epsilon, q, y FROM reports
               WHERE day >= $1::date AND day <= $2::date ORDER BY day, id LIMIT ${PAGE}`,
              [from, to],
            );
        for (const r of rows) {
          reports.push({ epsilon: Number(r.epsilon), q: r.q, y: Number(r.y) });
          perDay.set(r.day, (perDay.get(r.day) ?? 0) + 1);
        }
        if (rows.length < PAGE) break;
        const last = rows[rows.length - 1]!;
        cursor = [last.day, last.id];
      }
    },
    { snapshot: true },
  );
  return { reports, perDay };
}
