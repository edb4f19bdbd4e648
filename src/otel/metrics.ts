import { ROOT_CONTEXT, trace, type Attributes, type Histogram, type Meter, type Span } from '@opentelemetry/api';
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
import type { Exemplars } from './exemplars';

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
  ttfd: 'earshot.ttfd',
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
  suppressed: 'earshot.logs.suppressed',
} as const;

/** earshot's histograms: description, unit (default seconds), and whether the GenAI buckets apply. */
const HISTOGRAMS = {
  ttft: ['Time to first content chunk (TTFT), from the request leaving the client', 's', true],
  chunkGap: ["A turn's mean gap between consecutive content chunks", 's', true],
  duration: ['Turn duration, from the request to the last byte', 's', true],
  ttfb: ['Time to the first byte or message of any kind'],
  ttfa: ['Time to the first audible sample of the reply, as heard'],
  ttfd: ["Time to the first display of the reply's text"],
  tpot: ['Time per output token after the first'],
  itlMax: ["A turn's longest gap between content chunks"],
  jitter: ["Standard deviation of a turn's gaps between content chunks"],
  rtf: ['Real-time factor of received audio: >= 1 falls behind', '1'],
} satisfies Record<string, [description: string, unit?: string, genAi?: boolean]>;
type HistogramKey = keyof typeof HISTOGRAMS;

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

/**
 * Turn and connection metrics from their reports, and the observed ones (active connections, their
 * peak per export interval, telemetry lost) read at each collection. Work per report, none per chunk.
 * A turn's histograms are recorded in its span's context, where a provider with exemplar support
 * picks the span up, and offered to earshot's own exemplars.
 */
export class TurnMetrics {
  readonly #histograms = {} as Record<HistogramKey, Histogram>;
  readonly #turns;
  readonly #failures;
  readonly #connections;

  constructor(
    meter: Meter,
    monitor: () => Monitor | undefined,
    dropped: () => number,
    /** Log records suppressed by the rate limit, when earshot logs. */
    suppressed: (() => number) | undefined,
    readonly exemplars: Exemplars | undefined,
  ) {
    for (const [key, [description, unit = 's', genAi]] of Object.entries(HISTOGRAMS) as Array<[HistogramKey, [string, string?, boolean?]]>) {
      this.#histograms[key] = meter.createHistogram(INSTRUMENTS[key], {
        description,
        unit,
        advice: genAi ? { explicitBucketBoundaries: GENAI_SECONDS } : undefined,
      });
    }
    this.#turns = meter.createCounter(INSTRUMENTS.turns, { description: 'Ended turns', unit: UNIT_TURNS });
    this.#failures = meter.createCounter(INSTRUMENTS.failures, { description: 'SLO criteria failed by turns', unit: UNIT_TURNS });
    this.#connections = meter.createCounter(INSTRUMENTS.connections, { description: 'Ended connections', unit: UNIT_CONNECTIONS });
    const active = meter.createObservableUpDownCounter(INSTRUMENTS.active, { description: 'Open connections', unit: UNIT_CONNECTIONS });
    const peak = meter.createObservableGauge(INSTRUMENTS.peak, {
      description: 'Most connections open at once since the previous collection',
      unit: UNIT_CONNECTIONS,
    });
    const lost = meter.createObservableCounter(INSTRUMENTS.dropped, {
      description: 'Spans and log records that could not be delivered',
      unit: '{item}',
    });
    const quiet = suppressed && meter.createObservableCounter(INSTRUMENTS.suppressed, {
      description: 'Log records the rate limit held back',
      unit: '{record}',
    });
    meter.addBatchObservableCallback(
      (result) => {
        result.observe(lost, dropped());
        if (quiet) result.observe(quiet, suppressed!());
        const m = monitor();
        if (!m) return;
        result.observe(active, m.summary().connections.active);
        // The high-water mark since the last collection, reset by reading it: an interval's short
        // streams count even when none is open at the moment of collection.
        result.observe(peak, m.takePeak());
      },
      quiet ? [active, peak, lost, quiet] : [active, peak, lost],
    );
  }

  /** A turn's report, with its span when it had one. */
  turn(report: TurnReport, span: Span | undefined): void {
    const transport = { [ATTR_TRANSPORT]: report.transport };
    const context = span && trace.setSpan(ROOT_CONTEXT, span);
    const spanContext = span?.spanContext();
    const record = (key: HistogramKey, value: number | undefined, attributes: Attributes = transport) => {
      if (value === undefined || !Number.isFinite(value)) return;
      this.#histograms[key].record(value, attributes, context);
      if (spanContext) this.exemplars?.offer(INSTRUMENTS[key], attributes, value, spanContext);
    };
    record('ttft', seconds(report.ttftMs));
    if (report.itl.count > 0) {
      record('chunkGap', seconds(report.itl.mean));
      record('itlMax', seconds(report.itl.max));
      record('jitter', seconds(report.itl.stddev));
    }
    // An abandoned turn's duration is when the user gave up, not how long the reply took.
    if (report.outcome !== 'abandoned') record('duration', seconds(report.e2eMs), { ...transport, [ATTR_OUTCOME]: report.outcome });
    record('ttfb', seconds(report.ttfbMs));
    record('ttfa', seconds(report.ttfaMs));
    record('ttfd', seconds(report.ttfdMs));
    record('tpot', seconds(report.tpotMs));
    record('rtf', report.rtf);
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
