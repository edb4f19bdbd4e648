import { describe, expect, it } from 'vitest';
import { OnsetDetector, fromDb } from '../src/webrtc/onset';
import { AudioStatsAccumulator, between, INBOUND_COUNTERS, PLAYOUT_COUNTERS } from '../src/webrtc/stats';

type Stats = Record<string, unknown>;

/** A stats report as getStats() resolves it: a map of stats objects by id. */
const report = (...stats: Stats[]) => new Map(stats.map((s) => [String(s.id), s]));

const inbound = (id: string, counters: Record<string, number>, extra: Stats = {}): Stats => ({
  id,
  type: 'inbound-rtp',
  kind: 'audio',
  ...counters,
  ...extra,
});

describe('inbound audio stats', () => {
  it('turns cumulative counters into deltas between samples, with the derived means', () => {
    const acc = new AudioStatsAccumulator(0);
    const a = acc.add(
      report(
        inbound('in', { jitterBufferDelay: 2, jitterBufferEmittedCount: 48000, jitterBufferTargetDelay: 1, jitterBufferMinimumDelay: 0.5, totalSamplesReceived: 50000, concealedSamples: 1000 }, { jitter: 0.004 }),
        { id: 'pl', type: 'media-playout', kind: 'audio', totalPlayoutDelay: 1.5, totalSamplesCount: 50000 },
      ),
      1000,
    );
    const b = acc.add(
      report(
        inbound('in', { jitterBufferDelay: 2 + 9600, jitterBufferEmittedCount: 48000 + 96000, jitterBufferTargetDelay: 1 + 4800, jitterBufferMinimumDelay: 0.5 + 2880, totalSamplesReceived: 50000 + 96000, concealedSamples: 1000 + 960 }, { jitter: 0.012 }),
        { id: 'pl', type: 'media-playout', kind: 'audio', totalPlayoutDelay: 1.5 + 2880, totalSamplesCount: 50000 + 96000 },
        { id: 'T', type: 'transport', selectedCandidatePairId: 'cp1' },
        { id: 'cp0', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.5 },
        { id: 'cp1', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.021 },
      ),
      3000,
    );
    const s = between(a, b);
    expect(s.from).toBe(1000);
    expect(s.to).toBe(3000);
    expect(s.jitterBufferEmittedCount).toBe(96000);
    expect(s.totalSamplesReceived).toBe(96000);
    expect(s.concealedSamples).toBe(960);
    expect(s.delayMs).toBeCloseTo(100, 9);
    expect(s.targetDelayMs).toBeCloseTo(50, 9);
    expect(s.minimumDelayMs).toBeCloseTo(30, 9);
    expect(s.concealedRatio).toBeCloseTo(0.01, 12);
    expect(s.playoutDelayMs).toBeCloseTo(30, 9);
    expect(s.jitterMs).toBe(12);
    // The selected pair's round trip, not another nominated one's.
    expect(s.roundTripTimeMs).toBe(21);
    expect(s.packetsLost).toBe(0);
  });

  it('leaves the means undefined when nothing was emitted', () => {
    const acc = new AudioStatsAccumulator(5);
    const s = between(acc.latest, acc.add(report(), 6));
    expect(s.delayMs).toBeUndefined();
    expect(s.concealedRatio).toBeUndefined();
    expect(s.playoutDelayMs).toBeUndefined();
    expect(s.jitterMs).toBeUndefined();
    expect(s.roundTripTimeMs).toBeUndefined();
    for (const c of [...INBOUND_COUNTERS, ...PLAYOUT_COUNTERS]) expect(s[c]).toBe(0);
  });

  it('sums streams, keeps what an ended stream counted, and counts a new one from zero', () => {
    const acc = new AudioStatsAccumulator(0);
    const origin = acc.latest;
    acc.add(report(inbound('a', { packetsReceived: 100, packetsLost: 3 }), inbound('b', { packetsReceived: 50 })), 1);
    // Stream a went away (e.g. its transceiver stopped); stream c replaced it.
    const last = acc.add(report(inbound('b', { packetsReceived: 80 }), inbound('c', { packetsReceived: 10, packetsLost: 1 })), 2);
    expect(between(origin, last).packetsReceived).toBe(100 + 80 + 10);
    expect(between(origin, last).packetsLost).toBe(3 + 1);
  });

  it('ignores video streams, other kinds of stats and counters that are not finite numbers', () => {
    const acc = new AudioStatsAccumulator(0);
    const origin = acc.latest;
    const s = acc.add(
      report(
        { id: 'v', type: 'inbound-rtp', kind: 'video', packetsReceived: 999 },
        { id: 'o', type: 'outbound-rtp', kind: 'audio', packetsSent: 5 },
        inbound('a', { packetsReceived: 7 }, { concealedSamples: 'x', jitterBufferDelay: NaN, jitter: Infinity }),
      ),
      1,
    );
    const d = between(origin, s);
    expect(d.packetsReceived).toBe(7);
    expect(d.concealedSamples).toBe(0);
    expect(d.jitterBufferDelay).toBe(0);
    expect(d.jitterMs).toBeUndefined();
  });

  it('falls back to the nominated pair that works when the transport names none', () => {
    const acc = new AudioStatsAccumulator(0);
    const s = acc.add(
      report(
        { id: 'x', type: 'candidate-pair', nominated: false, state: 'succeeded', currentRoundTripTime: 0.3 },
        { id: 'y', type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.004 },
      ),
      1,
    );
    expect(s.roundTripTimeMs).toBe(4);
  });
});

describe('onset detector', () => {
  const threshold = fromDb(-50);

  it('finds the first loud sample after a full gap of quiet, across blocks', () => {
    const d = new OnsetDetector(threshold, 4);
    // The start of a stream is not an onset: no quiet was seen before it.
    expect(d.scan([0.5, 0.5, 0, 0, 0])).toBe(-1);
    // Two more quiet samples complete the gap of four; the loud one after is the onset.
    expect(d.scan([0, 0.2, 0.5])).toBe(1);
    // A dip shorter than the gap inside a sound is not a new onset.
    expect(d.scan([0, 0, 0.3, 0, 0, 0, 0, -0.4])).toBe(7);
  });

  it('scans from an index, and starts over after a reset', () => {
    const d = new OnsetDetector(threshold, 2);
    const block = [0, 0, 0.1, 0.1, 0, 0, 0.1];
    expect(d.scan(block)).toBe(2);
    expect(d.scan(block, 3)).toBe(6);
    d.reset();
    expect(d.scan([0, 0.1])).toBe(-1);
  });

  it('treats quiet samples, NaN and the threshold itself as documented', () => {
    const d = new OnsetDetector(0.1, 1);
    expect(d.scan([NaN, 0.0999, 0.1])).toBe(2);
    expect(fromDb(-20)).toBeCloseTo(0.1, 12);
  });
});
