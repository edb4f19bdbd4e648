import { isCount } from './options';
import type { Distribution } from './types';

/**
 * Buckets as OpenTelemetry's exponential histogram at scale 5: 32 per power of two, base = 2^(1/32),
 * bucket i holding (base^i, base^(i+1)]. The index comes from a logarithm, so a value within a float
 * step of a bound may land in the neighbouring bucket: harmless for a 1.1% quantile bound.
 */
const PER_OCTAVE = 32;
const BASE = 2 ** (1 / PER_OCTAVE);
/** Values at or below 2^-10 (≈ 1 µs in ms) go to the zero bucket. */
const ZERO_THRESHOLD = 2 ** -10;
/** Bucket range (2^-10, 2^30]: 1 µs to 12 days in ms, and any ratio of interest; larger values land in the top bucket. */
const MIN_INDEX = -10 * PER_OCTAVE;
const MAX_INDEX = 30 * PER_OCTAVE - 1;
const MAX_BINS = MAX_INDEX - MIN_INDEX + 1;
const FIRST_BINS = PER_OCTAVE;
/** Bucket i is represented by REP · base^(i+1), the value of least relative error over the bucket. */
const REP = 2 / (BASE + 1);


/**
 * Quantile sketch of non-negative values (DDSketch-style, relative error ≤ 1.1%). Count, mean, min and
 * max are exact. Buckets live in a dense window over the indices seen, allocated on the first add
 * (32 bins) and doubled when a value falls outside, up to 1280 bins (10 KB) for the whole range:
 * memory is independent of the number of samples, and `add` allocates nothing once the range is covered.
 */
export class Sketch {
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;
  #zero = 0;
  #offset = 0;
  /** The bins allocated, at most 1280 (read by tests). */
  declare _bins: Float64Array | undefined;

  add(value: number): void {
    // Negative, NaN, infinite and non-number values are not latencies: ignored.
    if (!isCount(value)) return;
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    if (value <= ZERO_THRESHOLD) this.#zero++;
    else {
      const i = value > 2 ** 30 ? MAX_INDEX : Math.ceil(Math.log2(value) * PER_OCTAVE) - 1;
      let bins = this._bins;
      // A typed array reads undefined outside its bounds: the window does not hold bucket i yet.
      if (bins?.[i - this.#offset] === undefined) bins = this.#grow(i);
      bins[i - this.#offset]++;
    }
  }

  /** Lower quantile (rank q·(count−1)) of a non-empty sketch for q in [0, 1], clamped to [min, max]. */
  quantile(q: number): number {
    const rank = q * (this.#count - 1);
    let seen = this.#zero;
    let rep = 0; // the zero bucket's, clamped to min below
    const bins = this._bins;
    if (bins && seen <= rank) {
      for (let k = 0; k < bins.length; k++) {
        if ((seen += bins[k]) > rank) {
          rep = REP * BASE ** (this.#offset + k + 1);
          break;
        }
      }
    }
    return Math.min(Math.max(rep, this.#min), this.#max);
  }

  /** Empty sketches report zeros (with count 0) so the result stays plain JSON. */
  distribution(): Distribution {
    const n = this.#count;
    const z = (x: number): number => (n ? x : 0);
    return {
      count: n,
      mean: z(this.#sum / n),
      min: z(this.#min),
      max: z(this.#max),
      p50: z(this.quantile(0.5)),
      p90: z(this.quantile(0.9)),
      p95: z(this.quantile(0.95)),
      p99: z(this.quantile(0.99)),
    };
  }

  /** Widens the window to include index i: doubles (at least) toward i; the first window is centred on i. */
  #grow(i: number): Float64Array {
    const old = this._bins;
    // Without a window, an empty one of half the first size just below i: doubled, it is centred on i.
    const length = old?.length ?? FIRST_BINS / 2;
    const lo = old ? this.#offset : i - length;
    const hi = lo + length - 1;
    let size = length * 2;
    while (size < Math.max(hi, i) - Math.min(lo, i) + 1) size *= 2;
    size = Math.min(size, MAX_BINS);
    const offset = Math.min(Math.max(i < lo ? hi + 1 - size : lo, MIN_INDEX), MAX_INDEX + 1 - size);
    const bins = new Float64Array(size);
    if (old) bins.set(old, lo - offset);
    this.#offset = offset;
    return (this._bins = bins);
  }
}
