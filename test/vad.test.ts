import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rng } from '../bench/jitter-traces';
import { Vad, type VadEvent, type VadOptions } from '../src/audio/vad';
import { readWav } from '../e2e/fixtures/wav';

interface Truth {
  sampleRate: number;
  utterances: Array<{ startMs: number; endMs: number; pausesMs: Array<[number, number]> }>;
}
const clip = readWav(readFileSync(new URL('../e2e/fixtures/speech.wav', import.meta.url)));
const truth = JSON.parse(readFileSync(new URL('../e2e/fixtures/speech.json', import.meta.url), 'utf8')) as Truth;

/** Runs the detector over `samples` in blocks of `block` (a render quantum by default), from time `t0`. */
function detect(samples: Float32Array, options: Partial<VadOptions> = {}, block = 128, t0 = 0): VadEvent[] {
  const events: VadEvent[] = [];
  const vad = new Vad({ sampleRate: clip.sampleRate, ...options }, (e) => events.push(e));
  for (let i = 0; i < samples.length; i += block) {
    vad.push(samples.subarray(i, i + block), t0 + (i * 1000) / clip.sampleRate);
  }
  return events;
}

/** [start, end] pairs of the detected segments. */
const segments = (events: VadEvent[]) => {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < events.length; i += 2) out.push([events[i].time, events[i + 1]?.time ?? NaN]);
  return out;
};

const TRUE_SEGMENTS = truth.utterances.map((u) => [u.startMs, u.endMs]);

function noise(length: number, dbfs: number, seed: number): Float32Array {
  const rand = rng(seed);
  const sigma = 10 ** (dbfs / 20);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    let g = -6;
    for (let k = 0; k < 12; k++) g += rand();
    out[i] = g * sigma;
  }
  return out;
}

const mix = (a: Float32Array, b: Float32Array) => a.map((x, i) => x + (b[i] ?? 0));

/** A 440 Hz tone at `dbfs` (RMS) from `from` to `to` ms over noise at -60 dBFS, 16 kHz. */
function toneBurst(totalMs: number, from: number, to: number, dbfs = -20): Float32Array {
  const rate = 16000;
  const out = noise((totalMs * rate) / 1000, -60, 7);
  const amp = Math.SQRT2 * 10 ** (dbfs / 20);
  for (let i = (from * rate) / 1000; i < (to * rate) / 1000; i++) out[i] += amp * Math.sin((2 * Math.PI * 440 * i) / rate);
  return out;
}

describe('Vad on the speech fixture', () => {
  it('finds each utterance within 100 ms of its measured boundaries, without ending at its 200 ms pause', () => {
    const events = detect(clip.samples);
    expect(events.map((e) => e.type)).toEqual(['speechstart', 'speechend', 'speechstart', 'speechend']);
    const found = segments(events);
    for (let u = 0; u < TRUE_SEGMENTS.length; u++) {
      expect(Math.abs(found[u][0] - TRUE_SEGMENTS[u][0]), `utterance ${u} start`).toBeLessThanOrEqual(100);
      expect(Math.abs(found[u][1] - TRUE_SEGMENTS[u][1]), `utterance ${u} end`).toBeLessThanOrEqual(100);
    }
    // The end is known once the hangover (400 ms by default) has passed in silence.
    for (const e of events.filter((e) => e.type === 'speechend')) expect(e.detectedAt - e.time).toBeCloseTo(400, 6);
  });

  it('splits at the pauses when the hangover is shorter than them', () => {
    const events = detect(clip.samples, { hangoverMs: 150 });
    const found = segments(events);
    expect(found).toHaveLength(4);
    const pauses = truth.utterances.flatMap((u) => u.pausesMs);
    // Each phrase ends within 100 ms before a pause, and the next starts within 100 ms after it.
    expect(Math.abs(found[0][1] - pauses[0][0])).toBeLessThanOrEqual(100);
    expect(Math.abs(found[1][0] - pauses[0][1])).toBeLessThanOrEqual(100);
    expect(Math.abs(found[2][1] - pauses[1][0])).toBeLessThanOrEqual(100);
    expect(Math.abs(found[3][0] - pauses[1][1])).toBeLessThanOrEqual(100);
  });

  it('keeps its boundaries under 15 dB more background noise', () => {
    const noisy = mix(clip.samples, noise(clip.samples.length, -40, 11));
    const found = segments(detect(noisy));
    expect(found).toHaveLength(2);
    for (let u = 0; u < 2; u++) {
      expect(Math.abs(found[u][0] - TRUE_SEGMENTS[u][0])).toBeLessThanOrEqual(100);
      expect(Math.abs(found[u][1] - TRUE_SEGMENTS[u][1])).toBeLessThanOrEqual(100);
    }
  });

  it('adopts a louder background after the floor window, then finds speech over it', () => {
    const rate = clip.sampleRate;
    // 2 s of quiet, then a background 20 dB louder for 7 s, then the clip over that background.
    const quiet = noise(2 * rate, -60, 3);
    const loud = noise(7 * rate + clip.samples.length, -40, 5);
    const samples = new Float32Array(quiet.length + loud.length);
    samples.set(quiet);
    samples.set(loud, quiet.length);
    samples.set(mix(samples.subarray(9 * rate), clip.samples), 9 * rate);
    const found = segments(detect(samples));
    expect(found).toHaveLength(3);
    // The step reads as speech until the floor forgets the quiet (5 s window), then ends.
    expect(found[0][0]).toBeCloseTo(2000, -1);
    expect(found[0][1]).toBeLessThanOrEqual(2000 + 5000 + 100);
    for (let u = 0; u < 2; u++) {
      expect(Math.abs(found[u + 1][0] - 9000 - TRUE_SEGMENTS[u][0])).toBeLessThanOrEqual(100);
      expect(Math.abs(found[u + 1][1] - 9000 - TRUE_SEGMENTS[u][1])).toBeLessThanOrEqual(100);
    }
  });

  it('is not misled by digital silence before the capture starts', () => {
    const padded = new Float32Array(clip.sampleRate + clip.samples.length);
    padded.set(clip.samples, clip.sampleRate);
    const found = segments(detect(padded));
    expect(found.map(([s, e]) => [s - 1000, e - 1000])).toEqual(segments(detect(clip.samples)));
  });

  it('is not misled by a quiet frame or two as the capture starts', () => {
    // 300 ms of padding, then a frame 5% noise (-68 dBFS) and one 30% noise (-60 dBFS), then the clip.
    const lead = noise(320, -55, 13);
    const padded = new Float32Array(4800 + 320 + clip.samples.length);
    padded.set(lead.subarray(0, 8), 4800);
    padded.set(lead.subarray(160, 208), 4960);
    padded.set(clip.samples, 5120);
    const found = segments(detect(padded));
    expect(found.map(([s, e]) => [s - 320, e - 320])).toEqual(segments(detect(clip.samples)));
  });

  it('gives the same events whatever the block size, on any clock', () => {
    const reference = detect(clip.samples);
    expect(detect(clip.samples, {}, 1000)).toEqual(reference);
    expect(detect(clip.samples, {}, 37)).toEqual(reference);
    const shifted = detect(clip.samples, {}, 128, 123456.5);
    expect(shifted.map((e) => [e.type, e.time - 123456.5, e.detectedAt - 123456.5])).toEqual(
      reference.map((e) => [e.type, expect.closeTo(e.time, 6), expect.closeTo(e.detectedAt, 6)]),
    );
  });
});

describe('Vad on synthetic signals', () => {
  it('marks a tone burst on frame boundaries exactly', () => {
    const events = detect(toneBurst(3000, 1000, 2000));
    expect(events).toEqual([
      { type: 'speechstart', time: 1000, detectedAt: 1060 },
      { type: 'speechend', time: 2000, detectedAt: 2400 },
    ]);
  });

  it('takes its hangover and minimum speech time from the options', () => {
    const events = detect(toneBurst(3000, 1000, 2000), { hangoverMs: 250, minSpeechMs: 100 });
    expect(events).toEqual([
      { type: 'speechstart', time: 1000, detectedAt: 1100 },
      { type: 'speechend', time: 2000, detectedAt: 2250 },
    ]);
  });

  it('ignores a click shorter than the minimum speech time', () => {
    expect(detect(toneBurst(2000, 1000, 1050))).toEqual([]);
  });

  it('does not end speech at a gap shorter than the hangover', () => {
    const samples = mix(toneBurst(4000, 1000, 1800), toneBurst(4000, 2000, 2600));
    expect(segments(detect(samples))).toEqual([[1000, 2600]]);
  });

  it('never declares speech in silence or below the absolute level', () => {
    expect(detect(new Float32Array(16000 * 3))).toEqual([]);
    // -65 dBFS tone over digital silence: far over the floor, under minLevelDb (-60).
    const faint = new Float32Array(16000 * 2).map((_, i) => Math.SQRT2 * 10 ** (-65 / 20) * Math.sin(i / 5));
    expect(detect(faint)).toEqual([]);
  });

  it('counts NaN and infinite samples as silence, without throwing', () => {
    const samples = toneBurst(3000, 1000, 2000);
    for (let i = 0; i < samples.length; i += 97) samples[i] = i % 2 ? NaN : Infinity;
    expect(segments(detect(samples))).toEqual([[1000, 2000]]);
  });

  it('reports the noise floor it tracks', () => {
    const vad = new Vad({ sampleRate: 16000 }, () => undefined);
    vad.push(noise(16000, -50, 1), 0);
    expect(vad.noiseFloorDb).toBeGreaterThan(-52);
    expect(vad.noiseFloorDb).toBeLessThan(-50);
    expect(vad.speaking).toBe(false);
  });
});
