/**
 * The collector's dashboard: reads `GET /api/estimates?days=N` and shows, per item and per topic,
 * the estimated views, attention, viewable and skip rates with their 95% intervals (charts and a
 * sortable table), personalized containers against their holdout, the scroll-depth distribution,
 * the privacy budget the reports spent, and, where the collector trains the site model, its
 * federated rounds and the privacy they spent. Below the minimum number of reports only the budget and the
 * count are shown. Built with DOM nodes and text only, so it runs under `default-src 'self'`.
 */
import type { Chart } from 'chart.js';
import type { RoundsResponse } from '../rounds';
import { intervalChart, type Series } from './charts';
import {
  attentionPerView,
  COLUMNS,
  type Column,
  type ContainerRow,
  DEPTH_LABELS,
  type Estimates,
  formatCount,
  formatEpsilon,
  formatLift,
  formatRange,
  formatValue,
  type Interval,
  inUnit,
  isEstimates,
  liftKnown,
  type ItemRow,
  type SortState,
  sortRows,
  type TopicRow,
  type Unit,
} from './format';

/** The periods offered, days. */
const PERIODS = [7, 30] as const;
/** Most bars in an item or topic chart; the table has every row. */
const MAX_BARS = 20;

/** The charts on screen, destroyed before each render. */
let charts: Chart[] = [];
/** Bumped by each load, so that a late answer to an older one is dropped. */
let loads = 0;

/** An element with its text or children and, optionally, a class. */
function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string } = {},
  children: readonly Node[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  for (const child of children) node.append(child);
  return node;
}

/** A section with a heading (labelled by it). */
function section(id: string, title: string, ...children: Node[]): HTMLElement {
  const heading = el('h2', { text: title });
  heading.id = `${id}-title`;
  const s = el('section', { className: 'panel' }, [heading, ...children]);
  s.id = id;
  s.setAttribute('aria-labelledby', heading.id);
  return s;
}

/** A chart in a figure with its caption; `rows` sizes its height (bars of a horizontal chart). */
function chartFigure(caption: string, rows: number, draw: (canvas: HTMLCanvasElement) => Chart): HTMLElement {
  const canvas = el('canvas', { text: 'The same numbers are in the table.' });
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${caption}: estimates with 95% intervals; the numbers are in the table.`);
  const wrap = el('div', { className: 'canvas-wrap' }, [canvas]);
  wrap.style.setProperty('--rows', String(Math.max(rows, 3)));
  const figure = el('figure', { className: 'chart' }, [el('figcaption', { text: caption }), wrap]);
  // Chart.js sizes itself from its parent, so the figure is drawn once it is in the document.
  queueMicrotask(() => charts.push(draw(canvas)));
  return figure;
}

/** An estimate and its interval (in `unit` already) as a table cell: the estimate, then the interval in smaller type. */
function estimateCell(shown: Interval, unit: Unit, key: string): HTMLTableCellElement {
  const td = el('td', {}, [
    el('span', { className: 'est', text: formatValue(shown.estimate, unit) }),
    el('span', { className: 'ci', text: formatRange(shown, unit) }),
  ]);
  td.dataset.key = key;
  // The numbers as shown, unrounded, for whoever reads the page by machine.
  td.dataset.estimate = String(shown.estimate);
  td.dataset.low = String(shown.low);
  td.dataset.high = String(shown.high);
  return td;
}

/**
 * A table of `rows` with a column per metric (estimate and 95% interval), sortable by each
 * heading's button; `aria-sort` tells the sorted column.
 */
function metricsTable<T extends TopicRow>(
  caption: string,
  rows: readonly T[],
  extra?: { label: string; cell: (row: T) => string },
): HTMLElement {
  const sort: SortState = { key: 'views', descending: true };
  const table = el('table', { className: 'metrics' });
  table.append(el('caption', { text: `${caption}: estimates, each with its 95% interval below it. Sort by a column's heading.` }));
  const head = el('tr');
  const headers: { key: SortState['key']; th: HTMLTableCellElement }[] = [];
  const sortable = (key: SortState['key'], label: string, numeric: boolean): void => {
    const button = el('button', { text: label });
    button.type = 'button';
    const th = el('th', { className: numeric ? 'num' : '' }, [button]);
    th.scope = 'col';
    button.addEventListener('click', () => {
      sort.descending = sort.key === key ? !sort.descending : numeric;
      sort.key = key;
      fill();
    });
    headers.push({ key, th });
    head.append(th);
  };
  sortable('id', 'Name', false);
  if (extra) {
    const th = el('th', { text: extra.label });
    th.scope = 'col';
    head.append(th);
  }
  for (const c of COLUMNS) sortable(c.key, c.label, true);
  const body = el('tbody');
  table.append(el('thead', {}, [head]), body);

  function fill(): void {
    for (const { key, th } of headers) {
      if (key === sort.key) th.setAttribute('aria-sort', sort.descending ? 'descending' : 'ascending');
      else th.removeAttribute('aria-sort');
    }
    const trs = sortRows(rows, sort).map((row) => {
      const name = el('th', { text: row.id });
      name.scope = 'row';
      const tr = el('tr', {}, [name]);
      if (extra) tr.append(el('td', { className: 'tags', text: extra.cell(row) }));
      for (const c of COLUMNS) tr.append(estimateCell(inUnit(row[c.key], c.unit), c.unit, c.key));
      return tr;
    });
    body.replaceChildren(...trs);
  }
  fill();
  // The table scrolls on its own on narrow screens; focusable so the keyboard can scroll it.
  const scroller = el('div', { className: 'table-scroll' }, [table]);
  scroller.tabIndex = 0;
  scroller.setAttribute('role', 'region');
  scroller.setAttribute('aria-label', `${caption} table`);
  return scroller;
}

/** A chart per metric of `rows` (the most viewed first, at most `MAX_BARS`), then the table of them all. */
function metricsPanel<T extends TopicRow>(
  id: string,
  title: string,
  rows: readonly T[],
  extra?: { label: string; cell: (row: T) => string },
): HTMLElement {
  if (rows.length === 0) return section(id, title, el('p', { className: 'empty', text: 'Nothing in the catalogue.' }));
  const top = sortRows(rows, { key: 'views', descending: true }).slice(0, MAX_BARS);
  const more = rows.length > top.length ? ` (the ${top.length} most viewed)` : '';
  const figures = COLUMNS.map((c: Column) =>
    chartFigure(`${c.label} per ${title.toLowerCase().replace(/s$/, '')}${more}`, top.length, (canvas) =>
      intervalChart(canvas, {
        labels: top.map((r) => r.id),
        series: [{ label: c.label, tone: 'bar', values: top.map((r) => inUnit(r[c.key], c.unit)) }],
        unit: c.unit,
        horizontal: true,
      }),
    ),
  );
  return section(id, title, el('div', { className: 'grid' }, figures), metricsTable(title, rows, extra));
}

/** Personalized containers against their holdout: attention per view of each arm, and the lift, in a chart and a table. */
function containersPanel(containers: readonly ContainerRow[]): HTMLElement {
  const title = 'Personalization';
  if (containers.length === 0)
    return section('personalization', title, el('p', { className: 'empty', text: 'No personalized containers.' }));
  const arms: Series[] = [
    { label: 'Personalized', tone: 'bar', values: containers.map((c) => attentionPerView(c.personalized)) },
    { label: 'Holdout (page order)', tone: 'holdout', values: containers.map((c) => attentionPerView(c.holdout)) },
  ];
  const figure = chartFigure('Attention per view (s), personalized vs holdout', containers.length * 2, (canvas) =>
    intervalChart(canvas, { labels: containers.map((c) => c.id), series: arms, unit: 'seconds', horizontal: true }),
  );
  figure.querySelector('figcaption')?.after(
    el(
      'ul',
      { className: 'legend' },
      arms.map((arm) => el('li', {}, [el('span', { className: `swatch ${arm.tone}` }), document.createTextNode(arm.label)])),
    ),
  );
  const table = el('table', { className: 'metrics' });
  table.append(el('caption', { text: 'Attention per view of each arm and the lift of the personalized order, with 95% intervals.' }));
  const head = el('tr');
  for (const label of ['Container', 'Personalized views', 'Holdout views', 'Personalized (s per view)', 'Holdout (s per view)', 'Lift']) {
    const th = el('th', { text: label, className: label === 'Container' ? '' : 'num' });
    th.scope = 'col';
    head.append(th);
  }
  const body = el('tbody');
  containers.forEach((c, i) => {
    const name = el('th', { text: c.id });
    name.scope = 'row';
    const known = liftKnown(c.lift);
    const lift = el('td', {}, [
      el('span', { className: 'est', text: known ? formatLift(c.lift.estimate) : '–' }),
      el('span', { className: 'ci', text: known ? `${formatLift(c.lift.low)} – ${formatLift(c.lift.high)}` : 'too few views' }),
    ]);
    lift.dataset.key = 'lift';
    body.append(
      el('tr', {}, [
        name,
        estimateCell(c.personalized.views, 'count', 'personalizedViews'),
        estimateCell(c.holdout.views, 'count', 'holdoutViews'),
        estimateCell(arms[0]!.values[i]!, 'seconds', 'personalizedPerView'),
        estimateCell(arms[1]!.values[i]!, 'seconds', 'holdoutPerView'),
        lift,
      ]),
    );
  });
  table.append(el('thead', {}, [head]), body);
  const scroller = el('div', { className: 'table-scroll' }, [table]);
  scroller.tabIndex = 0;
  scroller.setAttribute('role', 'region');
  scroller.setAttribute('aria-label', 'Personalization table');
  return section(
    'personalization',
    title,
    el('p', {
      className: 'note',
      text: 'Views shown the personalized order against views kept in the page’s own order (the holdout). The lift is the personalized arm’s attention per view relative to the holdout’s.',
    }),
    figure,
    scroller,
  );
}

/** How far down the page visitors go: devices per scroll-depth bucket of their median view. */
function depthPanel(depth: readonly { bucket: number; views: Interval }[]): HTMLElement {
  const rows = [...depth].sort((a, b) => a.bucket - b.bucket);
  const labels = rows.map((d) => DEPTH_LABELS[d.bucket] ?? String(d.bucket));
  const figure = chartFigure('Devices by the scroll depth of their median view', 5, (canvas) =>
    intervalChart(canvas, {
      labels,
      series: [{ label: 'Views', tone: 'bar', values: rows.map((d) => d.views) }],
      unit: 'count',
      horizontal: false,
    }),
  );
  figure.classList.add('standing');
  const list = el(
    'ul',
    { className: 'depth-list' },
    rows.map((d, i) =>
      el('li', { text: `${labels[i]}: ${formatValue(d.views.estimate, 'count')} devices (95%: ${formatRange(d.views, 'count')})` }),
    ),
  );
  return section('depth', 'Scroll depth', figure, list);
}

/** The privacy budget the range's reports spent, and their count. */
function privacyPanel(data: Estimates): HTMLElement {
  const p = data.privacy;
  const n = data.days.length;
  const eps = p.epsilonPerReport.length ? p.epsilonPerReport.map(formatEpsilon).join(', ') : '–';
  const entries: [string, string, string][] = [
    ['reports', 'Reports', formatCount(data.reports)],
    ['epsilon-report', 'ε per report', eps],
    ['reports-day', 'Reports per device per day, at most', formatCount(p.maxReportsPerDevicePerDay)],
    ['epsilon-day', 'ε per device per day', formatEpsilon(p.epsilonPerDevicePerDay)],
    ['epsilon-range', `ε per device over ${n} day${n === 1 ? '' : 's'}`, formatEpsilon(p.epsilonPerDeviceInRange)],
  ];
  const dl = el('dl', { className: 'budget' });
  for (const [key, term, value] of entries) {
    const dd = el('dd', { text: value });
    dd.dataset.key = key;
    dl.append(el('div', {}, [el('dt', { text: term }), dd]));
  }
  return section(
    'privacy',
    'Privacy budget',
    dl,
    el('p', {
      className: 'note',
      text: `Each device randomizes its one report per day before sending it (local differential privacy); the collector never sees what a visitor did. Estimates are shown from ${formatCount(data.minReports)} reports on, and can fall below zero for rare items: read the intervals.`,
    }),
  );
}

/** The collector's federated rounds (`GET /api/rounds`). */
type Rounds = RoundsResponse;

const isRounds = (x: unknown): x is Rounds =>
  !!x && typeof x === 'object' && Array.isArray((x as Rounds).rounds) && typeof (x as Rounds).epsilon === 'number';

/** A UTC time as `YYYY-MM-DD HH:MM`. */
const when = (iso: string | null): string => (iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : '–');

/** The site model's federated rounds: the privacy spent against the budget, and each round's devices and refusals. */
function roundsPanel(r: Rounds): HTMLElement {
  const meter = el('meter');
  meter.min = 0;
  meter.max = r.epsilonBudget;
  meter.value = Math.min(r.epsilon, r.epsilonBudget);
  meter.setAttribute('aria-label', 'privacy budget spent');
  const entries: [string, string, string][] = [
    ['fed-status', 'Status', r.status === 'open' ? `round ${r.round} open` : 'privacy budget spent: no round opens'],
    [
      'fed-epsilon',
      `ε spent (δ = ${r.delta})`,
      r.noiseMultiplier > 0
        ? `${formatEpsilon(r.epsilon)} of ${formatEpsilon(r.epsilonBudget)}`
        : 'none counted: no noise, no privacy guarantee',
    ],
    [
      'fed-noise',
      'Noise',
      r.noiseMultiplier === 0
        ? 'none'
        : `${r.noise === 'central' ? 'central: added by the collector to the sum' : 'local: added by each device'}, z = ${r.noiseMultiplier}`,
    ],
    ['fed-clip', 'Clip norm, updates per round', `${r.clip}, ${formatCount(r.minClients)}`],
  ];
  const dl = el('dl', { className: 'budget' });
  for (const [key, term, value] of entries) {
    const dd = el('dd', { text: value });
    dd.dataset.key = key;
    dl.append(el('div', {}, [el('dt', { text: term }), dd]));
  }
  const head = [
    'Round',
    'Opened (UTC)',
    'Closed (UTC)',
    'Devices',
    'Refused: stale',
    'malformed',
    'oversized',
    'over the norm',
    'ε in total',
  ];
  const table = el('table', { className: 'rounds' }, [
    el('thead', {}, [
      el(
        'tr',
        {},
        head.map((h) => el('th', { text: h })),
      ),
    ]),
    el(
      'tbody',
      {},
      r.rounds.map((x) =>
        el(
          'tr',
          {},
          [
            `${x.round}${x.kind === 'statistics' ? ' (statistics)' : ''}${x.fromRound ? ` (from ${x.fromRound})` : ''}`,
            when(x.openedAt),
            when(x.closedAt),
            formatCount(x.clients ?? x.accepted),
            formatCount(x.rejected.stale),
            formatCount(x.rejected.malformed),
            formatCount(x.rejected.oversized),
            formatCount(x.rejected.overNorm),
            x.epsilon === null ? '–' : formatEpsilon(x.epsilon),
          ].map((t) => el('td', { text: t })),
        ),
      ),
    ),
  ]);
  return section(
    'rounds',
    'Site model: federated rounds',
    el('div', { className: 'meter' }, [meter]),
    dl,
    table,
    el('p', {
      className: 'note',
      text: 'Each device trains the site model on its own log and sends only a clipped change to it; Gaussian noise on the sum bounds what the published model can reveal about any one visitor (user-level differential privacy, counted over all rounds). No round opens that would pass the budget.',
    }),
  );
}

/** Adds the rounds' panel when the collector trains the site model (its `/api/rounds` answers). */
async function loadRounds(app: HTMLElement, mine: number): Promise<void> {
  try {
    const res = await fetch('api/rounds', { headers: { accept: 'application/json' } });
    // 204: this collector does not train the site model.
    if (res.status !== 200) return;
    const json: unknown = await res.json();
    if (mine !== loads || !isRounds(json)) return;
    app.querySelector('#rounds')?.remove();
    app.append(roundsPanel(json));
  } catch {
    // No rounds: the panel is left out.
  }
}

/** Replaces the page's content with `data`. */
function render(app: HTMLElement, data: Estimates): void {
  for (const chart of charts) chart.destroy();
  charts = [];
  const parts: Node[] = [privacyPanel(data)];
  if (data.suppressed) {
    const notice = el('p', { className: 'notice', text: `Fewer than ${formatCount(data.minReports)} reports: nothing is shown.` });
    notice.id = 'suppressed';
    notice.setAttribute('role', 'alert');
    parts.unshift(notice);
  } else {
    const items = data.items ?? [];
    parts.push(
      metricsPanel<ItemRow>('items', 'Items', items, { label: 'Topics', cell: (row) => (row.topics ?? []).join(', ') }),
      metricsPanel<TopicRow>('topics', 'Topics', data.topics ?? []),
      containersPanel(data.containers ?? []),
      depthPanel(data.depth ?? []),
    );
  }
  app.replaceChildren(...parts);
}

/** The period asked for by the address (`?days=30`), 7 days otherwise. */
function periodFromAddress(): number {
  const asked = Number(new URLSearchParams(location.search).get('days'));
  return (PERIODS as readonly number[]).includes(asked) ? asked : PERIODS[0];
}

/** Loads the estimates for `days` and renders them; says so in the status line when it fails. */
async function load(app: HTMLElement, status: HTMLElement, days: number): Promise<void> {
  const mine = ++loads;
  app.setAttribute('aria-busy', 'true');
  status.className = 'status';
  status.textContent = `Loading the last ${days} days…`;
  try {
    const res = await fetch(`api/estimates?days=${days}`, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`the collector answered ${res.status}`);
    const json: unknown = await res.json();
    if (!isEstimates(json)) throw new Error('the answer is not a set of estimates');
    if (mine !== loads) return;
    const range = json.days.length ? `${json.days[0]} to ${json.days[json.days.length - 1]} (UTC)` : `the last ${days} days`;
    status.textContent = `${formatCount(json.reports)} reports, ${range}.`;
    render(app, json);
    await loadRounds(app, mine);
  } catch (error) {
    if (mine !== loads) return;
    status.className = 'status error';
    status.textContent = `Could not load the estimates: ${error instanceof Error ? error.message : String(error)}.`;
  } finally {
    if (mine === loads) app.removeAttribute('aria-busy');
  }
}

/** Wires the period selector and loads the first period. */
function start(): void {
  const app = document.getElementById('app');
  const status = document.getElementById('status');
  const select = document.getElementById('days');
  if (!app || !status || !(select instanceof HTMLSelectElement)) return;
  const days = periodFromAddress();
  select.value = String(days);
  select.addEventListener('change', () => {
    const next = Number(select.value);
    const url = new URL(location.href);
    url.searchParams.set('days', String(next));
    history.replaceState(null, '', url);
    void load(app, status, next);
  });
  void load(app, status, days);
}

start();
