/**
 * Voice activity detection by energy, for the end of the user's speech: the t0 of a voice turn.
 * A pure class driven by explicit time (`push(samples, timeMs)`), so it runs in Node on recorded
 * clips and, unchanged, inside the AudioWorkletProcessor. No model: frame energy against an
 * adaptive noise floor, with a hangover so pauses inside a sentence do not end it.
 */

export interface VadOptions {
  /** Sample rate of the pushed samples, Hz. */
  sampleRate: number;
  /** Silence after speech before its end is declared, ms: longer than the pauses inside a sentence. Default 400. */
  hangoverMs?: number;
  /** Voiced time in a row before speech is declared, ms: rejects clicks and knocks. Default 60. */
  minSpeechMs?: number;
  /** How far over the noise floor a frame must be to be voiced, dB. Default 10. */
  thresholdDb?: number;
  /** Frames quieter than this are never voiced, dB relative to full scale. Default -60. */
  minLevelDb?: number;
  /** How long the noise floor remembers a quiet moment, ms: a louder background is adopted after this. Default 5000. */
  floorWindowMs?: number;
}

export interface VadEvent {
  type: 'speechstart' | 'speechend';
  /** Start: the first sample of the first voiced frame. End: the last sample of the last voiced frame. ms on the pushed clock. */
  time: number;
  /** When the detector could tell: after `minSpeechMs` of speech, or `hangoverMs` of silence. */
  detectedAt: number;
}

/** Analysis frame, ms. */
const FRAME_MS = 10;
/** The noise floor is the minimum over the window of a running median, kept as this many block minima. */
const FLOOR_BLOCKS = 10;
/**
 * Frames in the running median the floor tracks: a frame or two quieter than the background (a
 * track starting, a frame half padding) must not pin the floor low for a whole window.
 */
const MEDIAN = 5;
/** Once speaking, a frame stays voiced down to this far under the threshold: weak word endings count. */
const HYSTERESIS_DB = 4;
/** Energy of digital silence, dB: keeps log10 finite. */
const SILENCE_DB = -120;
/**
 * Frames quieter than this are padding (a muted or not yet started track), not a background: they
 * do not teach the noise floor, which would otherwise sit at digital silence for a whole window.
 */
const PADDING_DB = -100;

function positive(value: number | undefined, fallback: number): number {
  return typeof value === 'number' && value >= 0 && value < Infinity ? value : fallback;
}

export class Vad {
  readonly #frame: number;
  readonly #msPerSample: number;
  readonly #hangover: number;
  readonly #minSpeech: number;
  readonly #threshold: number;
  readonly #minLevel: number;
  readonly #onEvent: (event: VadEvent) => void;
  // The frame being filled.
  #sum = 0;
  #fill = 0;
  #frameStart = 0;
  // Noise floor: the last frames' energies (a ring) for the running median, scratch to sort them,
  // and the median's minima over completed blocks (a ring) and over the block being filled.
  readonly #recent = new Float64Array(MEDIAN);
  readonly #sorted = new Float64Array(MEDIAN);
  #heard = 0;
  readonly #blocks = new Float64Array(FLOOR_BLOCKS).fill(Infinity);
  readonly #blockFrames: number;
  #block = 0;
  #blockMin = Infinity;
  #blockFill = 0;
  // Speech state.
  #speaking = false;
  #run = 0;
  #runStart = 0;
  #silence = 0;
  #lastVoicedEnd = 0;

  constructor(options: VadOptions, onEvent: (event: VadEvent) => void) {
    const rate = positive(options.sampleRate, 48000) || 48000;
    this.#frame = Math.max(1, Math.round((rate * FRAME_MS) / 1000));
    this.#msPerSample = 1000 / rate;
    this.#hangover = positive(options.hangoverMs, 400);
    this.#minSpeech = positive(options.minSpeechMs, 60);
    this.#threshold = positive(options.thresholdDb, 10);
    this.#minLevel = typeof options.minLevelDb === 'number' && options.minLevelDb <= 0 ? options.minLevelDb : -60;
    this.#blockFrames = Math.max(1, Math.round(positive(options.floorWindowMs, 5000) / FLOOR_BLOCKS / FRAME_MS));
    this.#onEvent = onEvent;
  }

  /** Whether speech is under way (declared and not yet ended). */
  get speaking(): boolean {
    return this.#speaking;
  }

  /** The current noise floor, dB relative to full scale. */
  get noiseFloorDb(): number {
    return Math.min(this.#blockMin, ...this.#blocks);
  }

  /**
   * Analyses `length` samples (default all) whose first was captured at `timeMs`. NaN and infinite
   * samples count as silence. Allocates nothing.
   */
  push(samples: Float32Array, timeMs: number, length = samples.length): void {
    const n = Math.min(length, samples.length);
    for (let i = 0; i < n; i++) {
      if (this.#fill === 0) this.#frameStart = timeMs + i * this.#msPerSample;
      const x = samples[i];
      // x * x is NaN or Infinity for bad samples: they add nothing.
      const sq = x * x;
      if (sq < Infinity) this.#sum += sq;
      if (++this.#fill === this.#frame) this.#endFrame();
    }
  }

  #endFrame(): void {
    const db = Math.max(SILENCE_DB, 10 * Math.log10(this.#sum / this.#frame));
    const start = this.#frameStart;
    const end = start + this.#frame * this.#msPerSample;
    this.#sum = 0;
    this.#fill = 0;

    // The floor before this frame: the quietest frame of the window.
    let floor = this.#blockMin;
    for (let b = 0; b < FLOOR_BLOCKS; b++) if (this.#blocks[b] < floor) floor = this.#blocks[b];
    // No background heard yet: this frame is the best guess of it.
    if (floor === Infinity) floor = db;
    const threshold = Math.max(floor + this.#threshold, this.#minLevel);
    const voiced = db > threshold - (this.#speaking ? HYSTERESIS_DB : 0);
    if (db > PADDING_DB) this.#track(db);

    if (this.#speaking) {
      if (voiced) {
        this.#silence = 0;
        this.#lastVoicedEnd = end;
      } else if ((this.#silence += FRAME_MS) >= this.#hangover) {
        this.#speaking = false;
        this.#run = 0;
        this.#onEvent({ type: 'speechend', time: this.#lastVoicedEnd, detectedAt: end });
      }
      return;
    }
    if (!voiced) {
      this.#run = 0;
      return;
    }
    if (this.#run === 0) this.#runStart = start;
    if ((this.#run += FRAME_MS) >= this.#minSpeech) {
      this.#speaking = true;
      this.#silence = 0;
      this.#lastVoicedEnd = end;
      this.#onEvent({ type: 'speechstart', time: this.#runStart, detectedAt: end });
    }
  }

  /**
   * Minimum statistics on the running median: the floor follows a quieter background within a few
   * frames, and a louder one after the window.
   */
  #track(db: number): void {
    const recent = this.#recent;
    recent[this.#heard++ % MEDIAN] = db;
    if (this.#heard < MEDIAN) return;
    const sorted = this.#sorted;
    for (let i = 0; i < MEDIAN; i++) {
      let j = i;
      for (; j > 0 && sorted[j - 1] > recent[i]; j--) sorted[j] = sorted[j - 1];
      sorted[j] = recent[i];
    }
    const median = sorted[MEDIAN >> 1];
    if (median < this.#blockMin) this.#blockMin = median;
    if (++this.#blockFill < this.#blockFrames) return;
    this.#blocks[this.#block] = this.#blockMin;
    this.#block = (this.#block + 1) % FLOOR_BLOCKS;
    this.#blockMin = Infinity;
    this.#blockFill = 0;
  }
}

/** Name the detector's AudioWorkletProcessor is registered under; it posts each `VadEvent`, times in context ms. */
export const VAD_PROCESSOR = 'earshot-vad';
