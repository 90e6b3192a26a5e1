// Time-series charts on uPlot: one point a second, the last five minutes, y from zero, sized to their container.
import uPlot from 'uplot';
import { compact, clock } from './format.js';

export const WINDOW_SECONDS = 300;

const axisStyle = {
  stroke: '#6b7280',
  font: '12px system-ui, sans-serif',
  grid: { stroke: '#eef0f3', width: 1 },
  ticks: { stroke: '#e3e6ea', width: 1, size: 4 },
};

const hhmmss = (seconds) => clock(seconds * 1000);

/** Points the legend at the newest point. */
function showNewest(u) {
  const last = u.data[0].length - 1;
  if (last >= 0) u.setLegend({ idx: last }, false);
}

/**
 * A chart in `container` of `series` ([{label, color, fill?, dash?, format}]), whose values come from
 * `pick(snapshot)` (an array, one value per series). `integer` keeps the y ticks whole.
 */
export function timeChart(container, { series, pick, height = 200, integer = false }) {
  const options = {
    width: Math.max(container.clientWidth, 200),
    height,
    padding: [10, 30, 0, 0], // room for the last time label
    cursor: { drag: { x: false, y: false }, points: { size: 7 } },
    legend: { live: true },
    // Away from the cursor, the legend shows the newest values.
    hooks: { setLegend: [(u) => { if (u.legend.idx == null) showNewest(u); }] },
    scales: {
      // The last five minutes, ending at the newest point, so that the chart scrolls at a steady pace.
      x: {
        time: true,
        range: (u, min, max) => {
          const end = max ?? Date.now() / 1000;
          return [end - WINDOW_SECONDS + 1, end];
        },
      },
      y: {
        range: (u, min, max) => {
          const top = Math.max(Number.isFinite(max) ? max : 0, integer ? 4 : 1);
          return uPlot.rangeNum(0, top, 0.1, true);
        },
      },
    },
    axes: [
      { ...axisStyle, space: 70, values: (u, splits) => splits.map(hhmmss) },
      {
        ...axisStyle,
        size: 50,
        values: (u, splits) => splits.map(compact),
        ...(integer ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6] } : {}),
      },
    ],
    series: [
      { value: (u, v) => (v == null ? '–' : hhmmss(v)) },
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 2,
        fill: s.fill,
        dash: s.dash,
        points: { show: false },
        value: (u, v) => (v == null ? '–' : s.format(v)),
      })),
    ],
  };
  const chart = new uPlot(options, [[], ...series.map(() => [])], container);

  if (typeof ResizeObserver === 'function') {
    let width = container.clientWidth;
    new ResizeObserver(() => {
      if (container.clientWidth !== width && container.clientWidth > 0) {
        width = container.clientWidth;
        chart.setSize({ width: Math.max(width, 200), height });
      }
    }).observe(container);
  }

  return {
    chart,
    /** Draws these snapshots (oldest first); a pause of more than 2.5 s (disconnected) is left as a gap. */
    update(snapshots) {
      const xs = [];
      const ys = series.map(() => []);
      let previous = null;
      for (const snapshot of snapshots) {
        const t = snapshot.time / 1000;
        if (previous !== null && t - previous > 2.5) {
          xs.push(previous + 1);
          for (const y of ys) y.push(null);
        }
        xs.push(t);
        const values = pick(snapshot);
        ys.forEach((y, i) => y.push(Number.isFinite(values[i]) ? values[i] : null));
        previous = t;
      }
      chart.setData([xs, ...ys]);
      if (!(chart.cursor.left >= 0)) showNewest(chart);
    },
  };
}
