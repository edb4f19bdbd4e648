import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import type { ConnectionReport, TurnReport } from '../core/types';
import type { Monitor } from '../monitor';
import {
  ATTR_OUTCOME,
  ATTR_SLO_CATEGORY,
  ATTR_SLO_GOOD,
  METRIC_CONNECTIONS,
  METRIC_TURNS,
  UNIT_CONNECTIONS,
  UNIT_TURNS,
} from '../slo/names';

const ATTR_TRANSPORT = 'transport';
const ATTR_CRITERION = 'slo.criterion';

/**
 * The GenAI semantic conventions' buckets for their client durations (seconds, doubling from 10 ms):
 * advice for a provider that aggregates explicit buckets. earshot's own provider aggregates every
 * histogram exponentially instead.
 */
const GENAI_SECONDS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

/** Every instrument earshot records, by name: one table, mirrored in docs/otel.md. */
export const INSTRUMENTS = {
  ttft: 'gen_ai.client.operation.time_to_first_chunk',
  chunkGap: 'gen_ai.client.operation.time_per_output_chunk',
  duration: 'gen_ai.client.operation.duration',
  ttfb: 'earshot.ttfb',
  ttfa: 'earshot.ttfa',
  tpot: 'earshot.tpot',
  itlMax: 'earshot.itl.max',
  jitter: 'earshot.jitter',
  rtf: 'earshot.rtf',
  turns: METRIC_TURNS,
  failures: 'earshot.slo.failures',
  connections: METRIC_CONNECTIONS,
  active: 'earshot.connections.active',
  peak: 'earshot.connections.peak',
  dropped: 'earshot.telemetry.dropped',
} as const;

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

/**
 * Turn and connection metrics from their reports, and the observed ones (active connections, their
 * peak per export interval, telemetry lost) read at each collection. Work per report, none per chunk.
 */
export class TurnMetrics {
  readonly #ttft: Histogram;
  readonly #chunkGap: Histogram;
  readonly #duration: Histogram;
  readonly #ttfb: Histogram;
  readonly #ttfa: Histogram;
  readonly #tpot: Histogram;
  readonly #itlMax: Histogram;
  readonly #jitter: Histogram;
  readonly #rtf: Histogram;
  readonly #turns;
  readonly #failures;
  readonly #connections;

  constructor(meter: Meter, monitor: () => Monitor | undefined, dropped: () => number) {
    const histogram = (name: string, description: string, unit = 's', genAi = false) =>
      meter.createHistogram(name, { description, unit, advice: genAi ? { explicitBucketBoundaries: GENAI_SECONDS } : undefined });
    this.#ttft = histogram(INSTRUMENTS.ttft, 'Time to first content chunk (TTFT), from the request leaving the client', 's', true);
    this.#chunkGap = histogram(INSTRUMENTS.chunkGap, "A turn's mean gap between consecutive content chunks", 's', true);
    this.#duration = histogram(INSTRUMENTS.duration, 'Turn duration, from the request to the last byte', 's', true);
    this.#ttfb = histogram(INSTRUMENTS.ttfb, 'Time to the first byte or message of any kind');
    this.#ttfa = histogram(INSTRUMENTS.ttfa, 'Time to the first audible sample of the reply, as heard');
    this.#tpot = histogram(INSTRUMENTS.tpot, 'Time per output token after the first');
    this.#itlMax = histogram(INSTRUMENTS.itlMax, "A turn's longest gap between content chunks");
    this.#jitter = histogram(INSTRUMENTS.jitter, "Standard deviation of a turn's gaps between content chunks");
    this.#rtf = histogram(INSTRUMENTS.rtf, 'Real-time factor of received audio: >= 1 falls behind', '1');
    this.#turns = meter.createCounter(INSTRUMENTS.turns, { description: 'Ended turns', unit: UNIT_TURNS });
    this.#failures = meter.createCounter(INSTRUMENTS.failures, { description: 'SLO criteria failed by turns', unit: UNIT_TURNS });
    this.#connections = meter.createCounter(INSTRUMENTS.connections, { description: 'Ended connections', unit: UNIT_CONNECTIONS });
    const active = meter.createObservableUpDownCounter(INSTRUMENTS.active, { description: 'Open connections', unit: UNIT_CONNECTIONS });
    const peak = meter.createObservableGauge(INSTRUMENTS.peak, {
      description: 'Most connections open at once since the previous collection',
      unit: UNIT_CONNECTIONS,
    });
    const lost = meter.createObservableCounter(INSTRUMENTS.dropped, { description: 'Spans that could not be delivered', unit: '{span}' });
    meter.addBatchObservableCallback(
      (result) => {
        result.observe(lost, dropped());
        const m = monitor();
        if (!m) return;
        result.observe(active, m.summary().connections.active);
        // The high-water mark since the last collection, reset by reading it: an interval's short
        // streams count even when none is open at the moment of collection.
        result.observe(peak, m.takePeak());
      },
      [active, peak, lost],
    );
  }

  turn(report: TurnReport): void {
    const transport = { [ATTR_TRANSPORT]: report.transport };
    const record = (histogram: Histogram, value: number | undefined, attributes: Attributes = transport) => {
      if (value !== undefined && Number.isFinite(value)) histogram.record(value, attributes);
    };
    record(this.#ttft, seconds(report.ttftMs));
    if (report.itl.count > 0) {
      record(this.#chunkGap, seconds(report.itl.mean));
      record(this.#itlMax, seconds(report.itl.max));
      record(this.#jitter, seconds(report.itl.stddev));
    }
    // An abandoned turn's duration is when the user gave up, not how long the reply took.
    if (report.outcome !== 'abandoned') record(this.#duration, seconds(report.e2eMs), { ...transport, [ATTR_OUTCOME]: report.outcome });
    record(this.#ttfb, seconds(report.ttfbMs));
    record(this.#ttfa, seconds(report.ttfaMs));
    record(this.#tpot, seconds(report.tpotMs));
    record(this.#rtf, report.rtf);
    const { slo } = report;
    const turn: Attributes = { ...transport, [ATTR_OUTCOME]: report.outcome, [ATTR_SLO_GOOD]: slo.good };
    if (report.outcome === 'abandoned') return this.#turns.add(1, turn);
    if (slo.category) turn[ATTR_SLO_CATEGORY] = slo.category;
    this.#turns.add(1, turn);
    for (const criterion of slo.failed) this.#failures.add(1, { [ATTR_CRITERION]: criterion });
  }

  connection(report: ConnectionReport): void {
    this.#connections.add(1, { [ATTR_TRANSPORT]: report.transport, [ATTR_OUTCOME]: report.outcome });
  }
}
