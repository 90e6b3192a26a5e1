// The price chart of the selected symbol: a lightweight-charts (v5) area series with one point per second, times in
// seconds UTC (what the library expects), shown in the browser's local time.
import { createChart, AreaSeries, ColorType, CrosshairMode, TickMarkType } from 'lightweight-charts';
import { clock, decimals } from './format.js';

/** Seconds without a quote are drawn at the last price (it did not change), up to this long a gap. */
const MAX_FILL = 120;
/** The series keeps this many points (seconds) at most; when it grows past, it drops back to KEEP. */
const MAX_POINTS = 3600;
const KEEP = 1800;
/** Pixels between points when they all fit. */
const SPACING = 6;

/**
 * Merges the server's history (`[[timeMs, price], ...]`, oldest first) with the live quotes received meanwhile
 * (`[[timeMs, price], ...]`), one point per second (the last price in it), gaps filled: `[{time, value}, ...]`.
 */
export function mergePoints(history, live) {
  const bySecond = new Map();
  for (const [ms, value] of [...history, ...live]) {
    if (Number.isFinite(ms) && Number.isFinite(value)) bySecond.set(Math.floor(ms / 1000), value);
  }
  const seconds = [...bySecond.keys()].sort((a, b) => a - b);
  const points = [];
  for (const time of seconds) {
    const last = points[points.length - 1];
    if (last && time - last.time <= MAX_FILL) {
      for (let t = last.time + 1; t < time; t++) points.push({ time: t, value: last.value });
    }
    points.push({ time, value: bySecond.get(time) });
  }
  return points.slice(-MAX_POINTS);
}

function tickMark(time, type) {
  const date = new Date(time * 1000);
  switch (type) {
    case TickMarkType.TimeWithSeconds: return clock(date);
    case TickMarkType.Time: return clock(date, false);
    case TickMarkType.DayOfMonth: return date.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
    default: return date.toLocaleDateString(undefined, { year: 'numeric', month: 'short' });
  }
}

export class PriceChart {
  constructor(container) {
    this.container = container;
    this.chart = createChart(container, {
      autoSize: true,
      layout: {
        background: { type: ColorType.Solid, color: '#ffffff' },
        textColor: '#4b5563',
        fontFamily: 'system-ui, sans-serif',
        fontSize: 12,
      },
      grid: { vertLines: { color: '#f1f3f6' }, horzLines: { color: '#f1f3f6' } },
      crosshair: { mode: CrosshairMode.Magnet },
      rightPriceScale: { borderColor: '#e3e6ea', scaleMargins: { top: 0.15, bottom: 0.08 } },
      timeScale: {
        borderColor: '#e3e6ea',
        timeVisible: true,
        secondsVisible: true,
        rightOffset: 3,
        barSpacing: SPACING,
        tickMarkFormatter: tickMark,
      },
      localization: { timeFormatter: (time) => clock(new Date(time * 1000)) },
    });
    this.series = this.chart.addSeries(AreaSeries, {
      lineColor: '#2f6fdd',
      topColor: 'rgba(47, 111, 221, 0.28)',
      bottomColor: 'rgba(47, 111, 221, 0.02)',
      lineWidth: 2,
      priceLineColor: '#2f6fdd',
    });
    /** What the series holds, `{time, value}` by time: the library's own copy is not ours to count on. */
    this.points = [];
    this.decimals = 2;
  }

  get count() {
    return this.points.length;
  }

  /** Replaces the whole series (a symbol's history), and shows all of it, or its end when it does not fit. */
  show(points) {
    this.points = points.slice(-MAX_POINTS);
    if (this.points.length) this.setPrecision(this.points[this.points.length - 1].value);
    this.series.setData(this.points.map((p) => ({ time: p.time, value: p.value })));
    const scale = this.chart.timeScale();
    const width = scale.width() || this.container.clientWidth; // before the chart's first layout, the box's
    if (width > 0 && this.points.length * SPACING > width) {
      scale.fitContent();
    } else {
      scale.applyOptions({ barSpacing: SPACING });
      scale.scrollToRealTime();
    }
  }

  clear() {
    this.show([]);
  }

  /**
   * A live price at `time` (seconds): updates the last point when it is of the same second, else appends it (after
   * the seconds in between, at the previous price). A quote older than the last point is dropped: the library only
   * updates the last point or appends.
   */
  add(time, value) {
    const last = this.points[this.points.length - 1];
    if (last && time < last.time) return;
    if (last && time === last.time) {
      last.value = value;
      this.series.update({ time, value });
      return;
    }
    if (!last) this.setPrecision(value);
    if (last && time - last.time <= MAX_FILL) {
      for (let t = last.time + 1; t < time; t++) this.append(t, last.value);
    }
    this.append(time, value);
    if (this.points.length > MAX_POINTS) {
      this.points = this.points.slice(-KEEP);
      this.series.setData(this.points.map((p) => ({ time: p.time, value: p.value })));
    }
  }

  append(time, value) {
    this.points.push({ time, value });
    this.series.update({ time, value });
  }

  setPrecision(value) {
    const places = decimals(value);
    if (places === this.decimals) return;
    this.decimals = places;
    this.series.applyOptions({ priceFormat: { type: 'price', precision: places, minMove: 10 ** -places } });
  }
}
