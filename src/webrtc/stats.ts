/**
 * Inbound audio of a peer connection as the browser's jitter buffer (NetEq in Chromium) reports it
 * through `getStats()`: the W3C webrtc-stats counters, kept as running totals so that any two
 * samples give the deltas over the time between them (a turn, an export interval). Pure: it reads
 * a stats report as a map of plain objects, so it runs in Node on recorded reports.
 */

/** Cumulative `inbound-rtp` counters (W3C names and units), summed over the inbound audio streams. */
export const INBOUND_COUNTERS = [
  'packetsReceived',
  'packetsLost',
  'packetsDiscarded',
  'jitterBufferDelay',
  'jitterBufferEmittedCount',
  'jitterBufferTargetDelay',
  'jitterBufferMinimumDelay',
  'totalSamplesReceived',
  'concealedSamples',
  'silentConcealedSamples',
  'concealmentEvents',
  'insertedSamplesForDeceleration',
  'removedSamplesForAcceleration',
  'totalAudioEnergy',
  'totalSamplesDuration',
] as const;

/** Cumulative `media-playout` counters: what the device path added after the jitter buffer. */
export const PLAYOUT_COUNTERS = ['synthesizedSamplesDuration', 'synthesizedSamplesEvents', 'totalPlayoutDelay', 'totalSamplesCount'] as const;

export type AudioCounter = (typeof INBOUND_COUNTERS)[number] | (typeof PLAYOUT_COUNTERS)[number];
export type AudioCounters = Record<AudioCounter, number>;

/**
 * Inbound audio over a span of time: counter deltas (W3C names and units: seconds, samples,
 * packets), the latest gauges, and the means derived from the deltas (undefined without a divisor).
 */
export interface AudioStats extends AudioCounters {
  /** performance.now() ms of the stats samples the span runs between. */
  from: number;
  to: number;
  /** Latest interarrival jitter of the inbound audio, ms (RFC 3550; the largest over streams). */
  jitterMs?: number;
  /** Latest `currentRoundTripTime` of the selected candidate pair, ms. */
  roundTripTimeMs?: number;
  /** Mean time a sample waited in the jitter buffer, ms: ΔjitterBufferDelay / ΔjitterBufferEmittedCount. */
  delayMs?: number;
  /** Mean jitter-buffer target, ms: ΔjitterBufferTargetDelay / ΔjitterBufferEmittedCount. */
  targetDelayMs?: number;
  /** Mean target from the network alone, ms: ΔjitterBufferMinimumDelay / ΔjitterBufferEmittedCount. */
  minimumDelayMs?: number;
  /** Share of received samples that were concealed: ΔconcealedSamples / ΔtotalSamplesReceived. */
  concealedRatio?: number;
  /** Mean delay from the jitter buffer to the audio device, ms (media-playout). */
  playoutDelayMs?: number;
}

/** Totals at one moment: what two samples are subtracted from. */
export interface AudioSnapshot {
  at: number;
  counters: AudioCounters;
  jitterMs?: number;
  roundTripTimeMs?: number;
}

/** A stats report as `RTCStatsReport` offers it (a Map in Node tests). */
export interface StatsReportLike {
  forEach(callback: (stats: Record<string, unknown>) => void): void;
}

const ALL: readonly AudioCounter[] = [...INBOUND_COUNTERS, ...PLAYOUT_COUNTERS];

const zero = (): AudioCounters => Object.fromEntries(ALL.map((c) => [c, 0])) as AudioCounters;

const finite = (v: unknown): number | undefined => (typeof v === 'number' && v > -Infinity && v < Infinity ? v : undefined);

/**
 * Running totals of a peer connection's inbound audio. Each stream's counters are differenced
 * against its own previous values, so a stream that ends keeps what it counted and one that starts
 * adds from zero: totals never jump backwards.
 */
export class AudioStatsAccumulator {
  readonly #totals = zero();
  /** Last raw counters of each stream, by stats id. */
  readonly #last = new Map<string, Partial<AudioCounters>>();
  #latest: AudioSnapshot;

  constructor(at: number) {
    this.#latest = { at, counters: zero() };
  }

  /** The totals as of the latest report. */
  get latest(): AudioSnapshot {
    return this.#latest;
  }

  /** Adds a report taken at `at` (performance.now() ms); returns the new totals. */
  add(report: StatsReportLike, at: number): AudioSnapshot {
    let jitter: number | undefined;
    let pairId: string | undefined;
    const pairs = new Map<string, Record<string, unknown>>();
    report.forEach((s) => {
      const type = s.type;
      if (type === 'inbound-rtp' && (s.kind ?? s.mediaType) === 'audio') {
        this.#count(String(s.id), s, INBOUND_COUNTERS);
        const j = finite(s.jitter);
        if (j !== undefined) jitter = Math.max(jitter ?? 0, j * 1000);
      } else if (type === 'media-playout' && (s.kind ?? 'audio') === 'audio') {
        this.#count(String(s.id), s, PLAYOUT_COUNTERS);
      } else if (type === 'transport' && typeof s.selectedCandidatePairId === 'string') {
        pairId = s.selectedCandidatePairId;
      } else if (type === 'candidate-pair') {
        pairs.set(String(s.id), s);
      }
    });
    // The selected pair, or else the nominated one that works (browsers without the transport field).
    let pair = pairId === undefined ? undefined : pairs.get(pairId);
    if (!pair) for (const p of pairs.values()) if (p.nominated && p.state === 'succeeded') pair = p;
    const rtt = finite(pair?.currentRoundTripTime);
    this.#latest = {
      at,
      counters: { ...this.#totals },
      jitterMs: jitter,
      roundTripTimeMs: rtt === undefined ? undefined : rtt * 1000,
    };
    return this.#latest;
  }

  #count(id: string, stats: Record<string, unknown>, names: readonly AudioCounter[]): void {
    let last = this.#last.get(id);
    if (!last) this.#last.set(id, (last = {}));
    for (const name of names) {
      const value = finite(stats[name]);
      if (value === undefined) continue;
      this.#totals[name] += value - (last[name] ?? 0);
      last[name] = value;
    }
  }
}

/** Inbound audio between two snapshots: deltas, the later gauges, and the derived means. */
export function between(a: AudioSnapshot, b: AudioSnapshot): AudioStats {
  const d = zero();
  for (const c of ALL) d[c] = b.counters[c] - a.counters[c];
  const ratio = (n: number, over: number, scale = 1) => (over > 0 ? (n / over) * scale : undefined);
  const emitted = d.jitterBufferEmittedCount;
  return {
    ...d,
    from: a.at,
    to: b.at,
    jitterMs: b.jitterMs,
    roundTripTimeMs: b.roundTripTimeMs,
    delayMs: ratio(d.jitterBufferDelay, emitted, 1000),
    targetDelayMs: ratio(d.jitterBufferTargetDelay, emitted, 1000),
    minimumDelayMs: ratio(d.jitterBufferMinimumDelay, emitted, 1000),
    concealedRatio: ratio(d.concealedSamples, d.totalSamplesReceived),
    playoutDelayMs: ratio(d.totalPlayoutDelay, d.totalSamplesCount, 1000),
  };
}
