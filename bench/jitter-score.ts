import type { Playout, PushMeta } from '../src/audio/jitter-buffer';
import type { Trace } from './jitter-traces';

/** What the scoring drives: earshot's JitterBuffer and the baselines. Media frames come first in a block. */
export interface Player {
  readonly playout: Playout;
  push(samples: Float32Array, nowMs: number, meta: PushMeta): void;
  pull(out: Float32Array, nowMs: number): void;
  end(): void;
  stats(): { insertedSamplesForDeceleration: number; removedSamplesForAcceleration: number };
}

export type PlayerFactory = (inputSampleRate: number, outputSampleRate: number) => Player;

export interface Score {
  trace: string;
  oracleMs: number;
  /** First audible output - first chunk arrival. */
  startupMs: number;
  /** Output time without media between the first audible sample and the end of the media. */
  concealedMs: number;
  /** concealedMs as a percentage of the media duration. */
  concealedPct: number;
  /** Playout - arrival, averaged over chunks. */
  latencyMs: number;
  /** When the last chunk finished playing - when it arrived. */
  endLagMs: number;
  /** Samples inserted or removed by time-stretching, % of media. */
  stretchPct: number;
}

const QUANTUM = 128;

/**
 * Synthetic signal for traces (which carry no samples): a 200 Hz tone under a 2 Hz syllable-like
 * envelope, loud from its first sample, so the first audible output is the first media played.
 */
function speechLike(frames: number, rate: number): Float32Array {
  const s = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    const t = i / rate;
    const env = 0.02 + 0.98 * Math.cos(2 * Math.PI * 2 * t) ** 2;
    s[i] = 0.2 * env * Math.cos(2 * Math.PI * 200 * t);
  }
  return s;
}

/**
 * Plays one trace in simulated time: each chunk is pushed at its arrivalMs, 128-frame quanta are
 * pulled at the output rate, time advancing one quantum per pull; end() follows the last chunk.
 */
export function score(trace: Trace, make: PlayerFactory, outputRate = 48000): Score {
  const ri = trace.sampleRate;
  const chunks = trace.chunks;
  const frameOf = (ms: number): number => Math.round((ms * ri) / 1000);
  const last = chunks[chunks.length - 1];
  const mediaMs = last.mediaMs + last.durMs;
  const signal = speechLike(frameOf(mediaMs), ri);
  const player = make(ri, outputRate);
  const out = new Float32Array(QUANTUM);
  const blockMs = (QUANTUM * 1000) / outputRate;
  const playAt = new Float64Array(chunks.length).fill(NaN);
  let next = 0;
  let assigned = 0;
  let firstMs = NaN;
  let endMs = NaN;
  let mediaFrames = 0;
  let silentBlocks = 0;
  for (let block = 0; ; block++) {
    const t = block * blockMs;
    while (next < chunks.length && chunks[next].arrivalMs <= t) {
      const c = chunks[next++];
      player.push(signal.subarray(frameOf(c.mediaMs), frameOf(c.mediaMs + c.durMs)), c.arrivalMs, {
        seq: c.seq,
        mediaMs: c.mediaMs,
      });
      if (next === chunks.length) player.end();
    }
    player.pull(out, t);
    const p = player.playout;
    if (p.mediaFrames > 0) {
      if (Number.isNaN(firstMs)) firstMs = p.firstAudibleMs >= 0 ? p.firstAudibleMs : t;
      mediaFrames += p.mediaFrames;
      endMs = t + (p.mediaFrames * 1000) / outputRate;
      // Media frames lead the block; within it, media runs at about real time.
      while (assigned < chunks.length && chunks[assigned].mediaMs < p.mediaMs + (p.mediaFrames * 1000) / outputRate) {
        playAt[assigned] = t + Math.max(0, chunks[assigned].mediaMs - p.mediaMs);
        assigned++;
      }
      silentBlocks = 0;
    } else if (next === chunks.length && ++silentBlocks * blockMs > 2000) break;
    if (t > last.arrivalMs + mediaMs + 60000) break;
  }
  let latency = 0;
  for (let i = 0; i < chunks.length; i++) latency += (Number.isNaN(playAt[i]) ? endMs : playAt[i]) - chunks[i].arrivalMs;
  const concealedMs = Math.max(0, endMs - firstMs - (mediaFrames * 1000) / outputRate);
  const st = player.stats();
  return {
    trace: trace.name,
    oracleMs: trace.oracleStartupMs,
    startupMs: firstMs - chunks[0].arrivalMs,
    concealedMs,
    concealedPct: (100 * concealedMs) / mediaMs,
    latencyMs: latency / chunks.length,
    endLagMs: endMs - last.arrivalMs,
    stretchPct:
      (100 * (st.insertedSamplesForDeceleration + st.removedSamplesForAcceleration)) / ((mediaMs * outputRate) / 1000),
  };
}

export interface FamilySummary {
  family: string;
  traces: number;
  startupMs: number;
  /** Median of startup - oracle. */
  overOracleMs: number;
  concealedMs: number;
  worstConcealedPct: number;
  latencyMs: number;
  endLagMs: number;
  stretchPct: number;
}

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
};

export function summarize(scores: Score[], familyOf: (trace: string) => string): FamilySummary[] {
  const groups = new Map<string, Score[]>();
  for (const s of scores) groups.set(familyOf(s.trace), [...(groups.get(familyOf(s.trace)) ?? []), s]);
  return [...groups].map(([family, g]) => ({
    family,
    traces: g.length,
    startupMs: mean(g.map((s) => s.startupMs)),
    overOracleMs: median(g.map((s) => s.startupMs - s.oracleMs)),
    concealedMs: mean(g.map((s) => s.concealedMs)),
    worstConcealedPct: Math.max(...g.map((s) => s.concealedPct)),
    latencyMs: mean(g.map((s) => s.latencyMs)),
    endLagMs: mean(g.map((s) => s.endLagMs)),
    stretchPct: mean(g.map((s) => s.stretchPct)),
  }));
}

/** The oracle needs no delay: under one render quantum at 48 kHz plus rounding. */
export const NO_DELAY_MS = 5;

export interface TargetCheck {
  medianOverOracleMs: number;
  /** Traces where the oracle needs no delay but more than 0.5 % was concealed. */
  concealFailures: string[];
  /** Families not at least as good as the fixed 200 ms prebuffer on startup and concealment, and better on one. */
  familyFailures: string[];
  ok: boolean;
}

/** The acceptance targets for earshot's buffer against the fixed 200 ms prebuffer on the same traces. */
export function checkTargets(
  earshot: Score[],
  fixed: Score[],
  familyOf: (trace: string) => string,
): TargetCheck {
  const medianOverOracleMs = median(earshot.map((s) => s.startupMs - s.oracleMs));
  const concealFailures = earshot
    .filter((s) => s.oracleMs <= NO_DELAY_MS && s.concealedPct > 0.5)
    .map((s) => s.trace);
  const base = new Map(summarize(fixed, familyOf).map((f) => [f.family, f]));
  const familyFailures = summarize(earshot, familyOf)
    .filter((f) => {
      const b = base.get(f.family)!;
      // Concealment within 0.5 ms of media per trace is a tie (one sample at 48 kHz is 0.02 ms).
      const c = f.concealedMs - b.concealedMs;
      return !(f.startupMs <= b.startupMs && c <= 0.5 && (f.startupMs < b.startupMs || c < -0.5));
    })
    .map((f) => f.family);
  return {
    medianOverOracleMs,
    concealFailures,
    familyFailures,
    ok: medianOverOracleMs <= 20 && !concealFailures.length && !familyFailures.length,
  };
}

export interface DrawCheck {
  draws: number;
  /** Draws meeting every target, and the median target alone. */
  ok: number;
  median: number;
  /** Per family: draws where it was not at least as good as the fixed 200 ms prebuffer. */
  familyFailures: Map<string, number>;
}

/**
 * Robustness: the targets judged on many small sets like the shipped one (perFamily traces of each
 * family, drawn with a fixed seed from the scored set), rather than on one pooled set.
 */
export function checkDraws(
  earshot: Score[],
  fixed: Score[],
  familyOf: (trace: string) => string,
  draws = 2000,
  perFamily = 3,
): DrawCheck {
  const byFamily = new Map<string, number[]>();
  earshot.forEach((s, i) => byFamily.set(familyOf(s.trace), [...(byFamily.get(familyOf(s.trace)) ?? []), i]));
  let seed = 1;
  const rand = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const r: DrawCheck = { draws, ok: 0, median: 0, familyFailures: new Map() };
  for (let d = 0; d < draws; d++) {
    const pick = [...byFamily.values()].flatMap((idx) => Array.from({ length: perFamily }, () => idx[Math.floor(rand() * idx.length)]));
    const c = checkTargets(pick.map((i) => earshot[i]), pick.map((i) => fixed[i]), familyOf);
    r.ok += +c.ok;
    r.median += +(c.medianOverOracleMs <= 20);
    for (const f of c.familyFailures) r.familyFailures.set(f, (r.familyFailures.get(f) ?? 0) + 1);
  }
  return r;
}
