import { describe, expect, it } from 'vitest';
import { FixedPrebuffer } from '../bench/jitter-baselines';
import { checkTargets, score, type PlayerFactory } from '../bench/jitter-score';
import { FAMILIES, familyOf, loadTraces, oracleStartup, synthTrace, type Trace } from '../bench/jitter-traces';
import { JitterBuffer } from '../src/audio/jitter-buffer';

const earshot: PlayerFactory = (ri, ro) => new JitterBuffer({ inputSampleRate: ri, outputSampleRate: ro });
const fixed200: PlayerFactory = (ri, ro) => new FixedPrebuffer(ri, ro, 200);
const shipped = loadTraces();

function targets(traces: Trace[], rate: number) {
  return checkTargets(
    traces.map((t) => score(t, earshot, rate)),
    traces.map((t) => score(t, fixed200, rate)),
    familyOf,
  );
}

describe('trace scoring', () => {
  it('scores a hand-made trace exactly', () => {
    // Three 20 ms chunks, the last 20 ms late, no prebuffer. Quanta are 8/3 ms at 48 kHz, and a
    // chunk is pushed before the first pull at or after its arrival: chunk 1 (20 ms) plays from
    // quantum 8 (21.33 ms) after a 1.33 ms gap, chunk 2 (60 ms) from quantum 23 (61.33 ms).
    const q = 8 / 3;
    const chunks = [0, 20, 60].map((arrivalMs, seq) => ({ seq, mediaMs: seq * 20, durMs: 20, sendMs: seq * 20, arrivalMs }));
    const s = score({ name: 'hand-1', sampleRate: 24000, chunkMs: 20, oracleStartupMs: 20, chunks }, (ri, ro) => new FixedPrebuffer(ri, ro, 0));
    expect(s.startupMs).toBe(0);
    expect(s.concealedMs).toBeCloseTo(8 * q - 20 + (23 * q - (8 * q + 20)), 9);
    expect(s.concealedPct).toBeCloseTo((100 * s.concealedMs) / 60, 9);
    expect(s.latencyMs).toBeCloseTo((0 + (8 * q - 20) + (23 * q - 60)) / 3, 9);
    expect(s.endLagMs).toBeCloseTo(23 * q + 20 - 60, 9);
  });

  it('recomputes each shipped trace oracle', () => {
    for (const t of shipped) expect(oracleStartup(t.chunks)).toBeCloseTo(t.oracleStartupMs, 2);
  });
});

// Each case plays every trace through two players in simulated time: seconds of CPU, not of waiting.
describe('earshot against the targets', { timeout: 300_000 }, () => {
  it('meets them on the shipped traces at 48 kHz', () => {
    const c = targets(shipped, 48000);
    expect(c.medianOverOracleMs).toBeLessThanOrEqual(20);
    expect(c.concealFailures).toEqual([]);
    expect(c.familyFailures).toEqual([]);
  });

  it('meets them on the shipped traces at 24 kHz', () => {
    expect(targets(shipped, 24000)).toMatchObject({ concealFailures: [], familyFailures: [], ok: true });
  });

  it('meets them on synthetic traces of the same families (other seeds)', () => {
    const synthetic = FAMILIES.flatMap((f) => Array.from({ length: 10 }, (_, i) => synthTrace(f, i + 1)));
    expect(targets(synthetic, 48000)).toMatchObject({ concealFailures: [], familyFailures: [], ok: true });
  });
});
