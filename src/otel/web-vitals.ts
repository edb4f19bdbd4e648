import type { Histogram, Meter } from '@opentelemetry/api';
import { onCLS, onFCP, onINP, onLCP, onTTFB, type Metric } from 'web-vitals';

const ATTR_RATING = 'rating';
/** On INP: whether the interaction came while a turn was in flight (a boolean). */
const ATTR_STREAMING = 'streaming';
const ATTR_INTERACTION = 'interaction.type';

export const WEB_VITALS = {
  lcp: 'earshot.web_vital.lcp',
  inp: 'earshot.web_vital.inp',
  cls: 'earshot.web_vital.cls',
  fcp: 'earshot.web_vital.fcp',
  ttfb: 'earshot.web_vital.ttfb',
} as const;

/** How many ended turns are remembered for an interaction reported later (INP comes on page hide). */
const ENDED_TURNS = 64;

/**
 * When turns were in flight, from their request (t0) to their end: open turns by start, and the last
 * ENDED_TURNS ended ones in a ring, so memory stays fixed however long the page lives.
 */
export class TurnTimeline {
  readonly #open = new Map<string, number>();
  readonly #ended = new Float64Array(2 * ENDED_TURNS).fill(NaN);
  #next = 0;

  start(id: string, at: number): void {
    this.#open.set(id, at);
  }

  end(id: string, t0: number, end: number): void {
    this.#open.delete(id);
    const i = 2 * (this.#next++ % ENDED_TURNS);
    this.#ended[i] = t0;
    this.#ended[i + 1] = end;
  }

  /** Whether a turn was in flight at `t` (performance.now). */
  busyAt(t: number): boolean {
    for (const at of this.#open.values()) if (at <= t) return true;
    const ended = this.#ended;
    for (let i = 0; i < ended.length; i += 2) if (ended[i] <= t && t <= ended[i + 1]) return true;
    return false;
  }
}

/**
 * Reports LCP, INP, CLS, FCP and TTFB (web-vitals) as histograms on earshot's meter, so they share
 * its resource: times in seconds, CLS unitless, each with its rating. An INP interaction that came
 * while a turn was in flight is marked `streaming`: what streaming a reply costs the page's
 * responsiveness. Its type and time come from its first event entry, as the attribution build
 * derives them; that build also observes every long animation frame, which on a page busy with
 * 10k messages a second cost a 53 ms observer callback.
 */
export function observeWebVitals(meter: Meter, timeline: TurnTimeline): void {
  const histogram = (name: string, description: string, unit = 's') => meter.createHistogram(name, { description, unit });
  const report = (h: Histogram, scale: number) => (metric: Metric) =>
    h.record(metric.value / scale, { [ATTR_RATING]: metric.rating });
  onLCP(report(histogram(WEB_VITALS.lcp, 'Largest Contentful Paint'), 1000));
  onFCP(report(histogram(WEB_VITALS.fcp, 'First Contentful Paint'), 1000));
  onTTFB(report(histogram(WEB_VITALS.ttfb, 'Time to first byte of the page'), 1000));
  onCLS(report(histogram(WEB_VITALS.cls, 'Cumulative Layout Shift', '1'), 1));
  const inp = histogram(WEB_VITALS.inp, 'Interaction to Next Paint');
  onINP((metric) => {
    const [first] = metric.entries;
    inp.record(metric.value / 1000, {
      [ATTR_RATING]: metric.rating,
      [ATTR_INTERACTION]: first && (first.name.startsWith('key') ? 'keyboard' : 'pointer'),
      [ATTR_STREAMING]: first !== undefined && timeline.busyAt(first.startTime),
    });
  });
}
