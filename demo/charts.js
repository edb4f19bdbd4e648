/**
 * The page's two plots, drawn with uPlot: the jitter buffer's level and target delay over time
 * (from `player.stats()`, polled while a reply plays), and the inter-token latency of each turn.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const HEIGHT = 180;
/** The buffer is read this often while audio arrives or plays, and for a while after. */
const POLL_MS = 50;
const LINGER_MS = 1500;
/** Points kept: 30 s of buffer readings, the last 40 turns. */
const MAX_READINGS = 600;
const MAX_TURNS = 40;

function plot(el, series, axes) {
  const chart = new uPlot({ width: el.clientWidth || 500, height: HEIGHT, scales: { x: { time: false } }, series, axes, legend: { live: false } }, series.map(() => []), el);
  addEventListener('resize', () => chart.setSize({ width: el.clientWidth, height: HEIGHT }));
  return chart;
}

function append(data, point, max) {
  point.forEach((v, i) => data[i].push(v));
  if (data[0].length > max) for (const column of data) column.splice(0, column.length - max);
}

export function bufferChart(el) {
  const chart = plot(
    el,
    [
      { label: 's' },
      { label: 'buffered ms', stroke: '#3e63dd', width: 1.5, spanGaps: false },
      { label: 'target ms', stroke: '#ab6400', width: 1.5, dash: [5, 4], spanGaps: false },
    ],
    [{ label: 'page time, s' }, { label: 'ms' }],
  );
  const data = [[], [], []];
  let player;
  let until = 0;
  let timer;
  const poll = async () => {
    const stats = await player.stats();
    const now = performance.now();
    append(data, [now / 1000, stats.bufferedMs, stats.targetDelayMs], MAX_READINGS);
    chart.setData(data);
    timer = now < until ? setTimeout(poll, POLL_MS) : undefined;
  };
  return {
    follow(p) {
      player = p;
      p.addEventListener('stats', () => this.wake());
    },
    /** Audio arrived or finished playing: read the buffer until it has been quiet for a while. */
    wake() {
      if (!player) return;
      until = performance.now() + LINGER_MS;
      if (timer) return;
      // A break in the line between replies.
      if (data[0].length) append(data, [performance.now() / 1000 - 0.001, null, null], MAX_READINGS);
      timer = setTimeout(poll, 0);
    },
  };
}

export function itlChart(el) {
  const dot = (stroke) => ({ stroke, width: 1.5, points: { show: true, size: 6 } });
  const chart = plot(
    el,
    [{ label: 'turn' }, { label: 'p50', ...dot('#12a594') }, { label: 'p95', ...dot('#3e63dd') }, { label: 'max', ...dot('#ce2c31') }],
    // Whole turns on the x axis.
    [{ label: 'turn #', incrs: [1, 2, 5, 10, 20] }, { label: 'ms' }],
  );
  const data = [[], [], [], []];
  return {
    /** A turn was reported: its gaps, when it had any. */
    add(seq, itl) {
      if (!itl.count) return;
      append(data, [seq, itl.p50, itl.p95, itl.max], MAX_TURNS);
      chart.setData(data);
    },
  };
}
