/**
 * Where sound starts in a stream of samples: the first sample at least `threshold` loud (absolute
 * value) after at least `gap` quiet samples. A pure class over explicit sample positions, so it runs
 * in Node on synthetic audio; the state carries over from one block of samples to the next.
 */
export class OnsetDetector {
  /** Quiet samples in a row up to the next one; an onset needs `gap` of them seen first. */
  #quiet = 0;

  constructor(
    readonly threshold: number,
    readonly gap: number,
  ) {}

  /** Nothing is known of the audio before the next sample (a gap in what was seen). */
  reset(): void {
    this.#quiet = 0;
  }

  /** Index of the first onset in `samples[from, to)`, or -1. NaN samples count as quiet. */
  scan(samples: ArrayLike<number>, from = 0, to = samples.length): number {
    for (let i = from; i < to; i++) {
      if (!(Math.abs(samples[i]) >= this.threshold)) {
        this.#quiet++;
        continue;
      }
      const onset = this.#quiet >= this.gap;
      this.#quiet = 0;
      if (onset) return i;
    }
    return -1;
  }
}

/** Amplitude of a level in dB relative to full scale. */
export const fromDb = (db: number): number => 10 ** (db / 20);
