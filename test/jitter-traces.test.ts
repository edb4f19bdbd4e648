import { describe, expect, it } from 'vitest';
import { FixedPrebuffer } from '../bench/jitter-baselines';
import { checkDraws, checkTargets, score, type PlayerFactory } from '../bench/jitter-score';
import { FAMILIES, familyOf, loadTraces, oracleStartup, synthTrace, type Family, type Trace, type TraceChunk } from '../bench/jitter-traces';
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

  it('meets them on synthetic traces of the same families, pooled and on 95 % of sets of 3 per family', () => {
    const synthetic = FAMILIES.flatMap((f) => Array.from({ length: 20 }, (_, i) => synthTrace(f, i + 1)));
    const e = synthetic.map((t) => score(t, earshot, 48000));
    const f = synthetic.map((t) => score(t, fixed200, 48000));
    expect(checkTargets(e, f, familyOf)).toMatchObject({ concealFailures: [], familyFailures: [], ok: true });
    const d = checkDraws(e, f, familyOf, 1000);
    expect(d.ok).toBeGreaterThanOrEqual(950);
  });
});

describe('synthetic traces: the families of traces/README.md', () => {
  const sets = (family: Family) => Array.from({ length: 5 }, (_, i) => synthTrace(family, i + 1).chunks);
  /** Media ms sent per wall ms of sending, over chunks [from, to). */
  const rtf = (c: TraceChunk[], from: number, to: number) => (c[to - 1].sendMs - c[from].sendMs) / (c[to - 1].mediaMs - c[from].mediaMs);

  it('send live audio in real time, 10-20 s of it, and deliver it in order', () => {
    for (const family of FAMILIES) {
      for (const c of sets(family)) {
        expect(c.length * 20).toBeGreaterThanOrEqual(10000);
        expect(c.length * 20).toBeLessThanOrEqual(20000);
        for (let i = 1; i < c.length; i++) expect(c[i].arrivalMs).toBeGreaterThanOrEqual(c[i - 1].arrivalMs);
        if (family.startsWith('paced')) for (const x of c) expect(x.sendMs - x.mediaMs).toBe(c[0].sendMs);
      }
    }
  });

  it('synthesise speech at RTF 0.3, 0.9 with 150-400 ms pauses before each sentence, and 1.15 from 4 s to 7 s', () => {
    for (const c of sets('tts-fast')) expect(rtf(c, 0, c.length)).toBeCloseTo(0.3, 1);
    for (const c of sets('tts-realtime')) {
      expect(rtf(c, 1, 150)).toBeCloseTo(0.9, 1);
      for (let i = 151; i < c.length; i += 150) {
        const pause = c[i].sendMs - c[i - 1].sendMs;
        expect(pause).toBeGreaterThan(150);
        expect(pause).toBeLessThan(400 + 40);
      }
    }
    for (const c of sets('tts-overload')) {
      expect(rtf(c, 0, 200)).toBeCloseTo(0.7, 1);
      expect(rtf(c, 200, 350)).toBeCloseTo(1.15, 1);
      expect(rtf(c, 350, c.length)).toBeCloseTo(0.7, 1);
    }
  });

  it('stall Wi-Fi 50-200 ms on about 1 % of chunks, and step cellular up 80 ms once', () => {
    let stalls = 0;
    let chunks = 0;
    for (const c of sets('paced-wifi')) {
      chunks += c.length;
      // A stall's chunk comes 50 ms or more after its send (20 ms base + gamma jitter rarely 30).
      stalls += c.filter((x, i) => x.arrivalMs - x.sendMs > 70 && (i === 0 || x.arrivalMs - c[i - 1].arrivalMs > 1)).length;
    }
    expect(stalls / chunks).toBeGreaterThan(0.005);
    expect(stalls / chunks).toBeLessThan(0.02);
    for (const c of sets('paced-cellular')) {
      const net = c.map((x) => x.arrivalMs - x.sendMs);
      const lo = (a: number[]) => Math.min(...a);
      expect(lo(net.slice(0, 50))).toBeLessThan(80);
      expect(lo(net.slice(-50))).toBeGreaterThan(140);
    }
  });
});
