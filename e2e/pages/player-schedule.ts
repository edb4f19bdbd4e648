/**
 * A scripted arrival schedule and the pure JitterBuffer driven by it, quantum by quantum, as the
 * player's processor is: the reference its output must match sample for sample. Shared by the unit
 * tests (Node) and the player page (Chromium, against the built worklet).
 */
import type { JitterBuffer, JitterBufferOptions } from '../../src/audio/jitter-buffer';

export const RATE = 48000;
export const QUANTUM = 128;
/** Render-clock ms of quantum q, as the processor computes it from currentFrame. */
export const quantumMs = (q: number): number => (q * QUANTUM * 1000) / RATE;

export type Samples = Float32Array | Int16Array | Uint8Array;

/** One command: a chunk (with seq and media time) or end/flush, at its arrival time (render-clock ms). */
export interface Step {
  at: number;
  op: 'push' | 'end' | 'flush';
  samples?: Samples;
  seq?: number;
  mediaMs?: number;
}

export const INPUT_RATE = 24000;
/** Schedule length, and what it exercises (checked by the tests, so a change of algorithm shows). */
export const SCHEDULE_MS = 1700;
export const SCHEDULE_UNDERRUNS = 1;
export const SCHEDULE_LATE_CHUNKS = 16;

const sine = (n: number, from: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => 0.4 * Math.sin((2 * Math.PI * 220 * (from + i)) / INPUT_RATE));

/**
 * 24 kHz in, 48 kHz out: paced 20 ms chunks with jitter and a 500 ms stall holding back 16 of them
 * (longer than the queue lasts even slowed down: an underrun, and chunks too late to play), end(); a second turn in Int16 and odd-split PCM16 bytes; a barge-in flush.
 */
export function schedule(): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < 40; i++) {
    const late = i >= 18 && i < 34 ? 500 - (i - 18) * 20 : ((i * 37) % 11) * 0.7;
    steps.push({ at: 30 + i * 20 + late, op: 'push', samples: sine(480, i * 480), seq: i, mediaMs: i * 20 });
  }
  steps.sort((a, b) => a.at - b.at);
  steps.push({ at: steps[steps.length - 1].at, op: 'end' });
  const pcm = new Int16Array(4800).map((_, i) => Math.round(8000 * Math.sin(i / 9)));
  for (let i = 0; i < 10; i++) steps.push({ at: 1200 + i * 7, op: 'push', samples: pcm.slice(i * 480, (i + 1) * 480) });
  const bytes = new Uint8Array(pcm.buffer.slice(0));
  steps.push({ at: 1300, op: 'push', samples: bytes.subarray(0, 1001) }, { at: 1301, op: 'push', samples: bytes.subarray(1001, 4000) });
  steps.push({ at: 1500, op: 'flush' });
  return steps;
}

/** The pure class driven by the schedule: commands due by each quantum's time, then one pull. */
export function reference(JB: typeof JitterBuffer, steps: Step[], quanta: number, options: Partial<JitterBufferOptions> = {}) {
  const jb = new JB({ inputSampleRate: INPUT_RATE, outputSampleRate: RATE, ...options });
  const out = new Float32Array(quanta * QUANTUM);
  const block = new Float32Array(QUANTUM);
  /** Each turn's first audible sample, render-clock ms. */
  const heard: number[] = [];
  let i = 0;
  for (let q = 0; q < quanta; q++) {
    while (i < steps.length && steps[i].at <= quantumMs(q)) {
      const s = steps[i++];
      if (s.op === 'end') jb.end();
      else if (s.op === 'flush') jb.flush();
      else jb.push(s.samples!, s.at, { seq: s.seq, mediaMs: s.mediaMs });
    }
    const before = jb.playout.firstAudibleFrame;
    jb.pull(block, quantumMs(q));
    if (jb.playout.firstAudibleFrame !== before && jb.playout.firstAudibleFrame >= 0) heard.push(jb.playout.firstAudibleMs);
    out.set(block, q * QUANTUM);
  }
  return { out, heard, stats: jb.stats() };
}

/** Index of the first sample that differs (bitwise), -1 when none. */
export const firstDifference = (a: Float32Array, b: Float32Array): number =>
  a.length !== b.length ? Math.min(a.length, b.length) : a.findIndex((v, i) => !Object.is(v, b[i]));
