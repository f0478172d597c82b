/**
 * The dashboard's charts (Chart.js): bars for the estimates with their 95% intervals drawn as error
 * bars by a small plugin. Only the parts used are registered, so the bundle carries no other chart
 * type, and no legend (the page draws its own, from the same colours). Chart.js draws on canvas and
 * sizes it through the CSSOM, which a strict `style-src 'self'` allows.
 */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartDataset,
  LinearScale,
  type Plugin,
  type Scale,
  Tooltip,
  type TooltipItem,
} from 'chart.js';
import { formatRange, formatValue, type Interval, type Unit } from './format';

declare module 'chart.js' {
  interface BarControllerDatasetOptions {
    /** Each bar's 95% interval, `[low, high]` in the chart's unit; drawn as an error bar. */
    intervals: [number, number][];
  }
}

/** Draws each bar's interval as a line with end caps across the bar's value axis. */
const errorBars: Plugin<'bar'> = {
  id: 'errorBars',
  afterDatasetsDraw(chart) {
    const horizontal = chart.options.indexAxis === 'y';
    const scale = horizontal ? chart.scales.x : chart.scales.y;
    if (!scale) return;
    const { ctx } = chart;
    ctx.save();
    ctx.strokeStyle = palette().whisker;
    ctx.lineWidth = 1.5;
    chart.data.datasets.forEach((dataset, i) => {
      const intervals = (dataset as ChartDataset<'bar'>).intervals;
      if (!intervals || !chart.isDatasetVisible(i)) return;
      chart.getDatasetMeta(i).data.forEach((bar, j) => {
        const [low, high] = intervals[j] ?? [];
        if (low === undefined || high === undefined) return;
        const { x, y, width, height } = bar.getProps(['x', 'y', 'width', 'height'], true) as {
          x: number;
          y: number;
          width: number;
          height: number;
        };
        const lo = scale.getPixelForValue(low);
        const hi = scale.getPixelForValue(high);
        const cap = Math.max(3, Math.min(8, (horizontal ? height : width) * 0.3));
        ctx.beginPath();
        if (horizontal) {
          ctx.moveTo(lo, y);
          ctx.lineTo(hi, y);
          for (const px of [lo, hi]) ctx.moveTo(px, y - cap), ctx.lineTo(px, y + cap);
        } else {
          ctx.moveTo(x, lo);
          ctx.lineTo(x, hi);
          for (const px of [lo, hi]) ctx.moveTo(x - cap, px), ctx.lineTo(x + cap, px);
        }
        ctx.stroke();
      });
    });
    ctx.restore();
  },
};

let registered = false;

/** Registers the controllers, elements, scales and plugins the dashboard uses, once. */
function register(): void {
  if (registered) return;
  registered = true;
  Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, errorBars);
  const colors = palette();
  Chart.defaults.font.family = colors.font;
  Chart.defaults.color = colors.text;
  Chart.defaults.borderColor = colors.grid;
}

/** The chart colours and font, read from the stylesheet's custom properties so charts follow its light or dark scheme. */
function palette(): { bar: string; holdout: string; whisker: string; text: string; grid: string; zero: string; font: string } {
  const css = getComputedStyle(document.documentElement);
  const read = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  return {
    bar: read('--chart-bar', '#4c78a8'),
    holdout: read('--chart-holdout', '#b0b7c0'),
    whisker: read('--chart-whisker', '#1d2733'),
    text: read('--text', '#1d2733'),
    grid: read('--chart-grid', '#dde2e8'),
    zero: read('--chart-zero', '#9aa3ad'),
    font: css.fontFamily || 'system-ui, sans-serif',
  };
}

/** One set of bars: its legend label, each bar's estimate with its interval (in the chart's unit), and its colour. */
export interface Series {
  label: string;
  values: readonly Interval[];
  /** `bar` (the main colour) or `holdout` (the muted one). */
  tone: 'bar' | 'holdout';
}

/** What an interval chart shows. */
export interface IntervalChartSpec {
  /** One label per bar (or per group of bars, with several series). */
  labels: readonly string[];
  series: readonly Series[];
  unit: Unit;
  /** Bars along the horizontal axis (long labels, many bars) rather than standing. */
  horizontal: boolean;
}

/** A label cut to `max` characters with an ellipsis, for axis ticks. */
const truncate = (s: string, max = 18): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/**
 * A bar chart on `canvas` of each series' estimates, with the 95% intervals as error bars. The value
 * axis spans every interval (rates 0..1); the tooltip gives the estimate and the interval.
 */
export function intervalChart(canvas: HTMLCanvasElement, spec: IntervalChartSpec): Chart<'bar', number[], string> {
  register();
  const colors = palette();
  const lows = spec.series.flatMap((s) => s.values.map((v) => v.low));
  const highs = spec.series.flatMap((s) => s.values.map((v) => v.high));
  const rate = spec.unit === 'rate';
  const valueAxis = {
    type: 'linear' as const,
    min: rate ? 0 : undefined,
    max: rate ? 1 : undefined,
    suggestedMin: Math.min(0, ...lows),
    suggestedMax: Math.max(0, ...highs),
    // Estimates can fall below zero: the zero line stands out from the grid.
    grid: { color: (c: { tick?: { value: number } }) => (c.tick?.value === 0 ? colors.zero : colors.grid) },
    ticks: { callback: (v: number | string) => formatValue(Number(v), spec.unit), maxTicksLimit: 6 },
  };
  const labelAxis = {
    type: 'category' as const,
    grid: { display: false },
    ticks: {
      autoSkip: false,
      callback(this: Scale, v: number | string) {
        return truncate(this.getLabelForValue(Number(v)));
      },
    },
  };
  return new Chart<'bar', number[], string>(canvas, {
    type: 'bar',
    data: {
      labels: [...spec.labels],
      datasets: spec.series.map((s) => ({
        label: s.label,
        data: s.values.map((v) => v.estimate),
        intervals: s.values.map((v): [number, number] => [v.low, v.high]),
        backgroundColor: colors[s.tone],
        borderWidth: 0,
        barPercentage: 0.85,
        categoryPercentage: 0.8,
      })),
    },
    options: {
      indexAxis: spec.horizontal ? 'y' : 'x',
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: spec.horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis },
      plugins: {
        tooltip: {
          callbacks: {
            title: (items: TooltipItem<'bar'>[]) => items[0]?.label ?? '',
            label: (item: TooltipItem<'bar'>) => {
              const v = spec.series[item.datasetIndex]?.values[item.dataIndex];
              if (!v) return '';
              const head = spec.series.length > 1 ? `${item.dataset.label}: ` : '';
              return `${head}${formatValue(v.estimate, spec.unit)} (95%: ${formatRange(v, spec.unit)})`;
            },
          },
        },
      },
    },
  });
}
