import type { Distribution } from './types';

/**
 * OpenTelemetry exponential-histogram scale: 2^5 buckets per power of two, base = 2^(2^-5).
 * Bucket i holds (base^i, base^(i+1)], so the buckets export unchanged as an OTLP ExponentialHistogram.
 */
const SCALE = 5;
const PER_OCTAVE = 1 << SCALE;
const BASE = 2 ** (1 / PER_OCTAVE);
/** Values at or below 2^-10 (≈ 1 µs in ms) go to the zero bucket. */
const ZERO_THRESHOLD = 2 ** -10;
/** Bucket range (2^-10, 2^30]: 1 µs to 12 days in ms, and any ratio of interest; larger values land in the top bucket. */
const MIN_INDEX = -10 * PER_OCTAVE;
const MAX_INDEX = 30 * PER_OCTAVE - 1;
const MAX_BINS = MAX_INDEX - MIN_INDEX + 1;
const FIRST_BINS = PER_OCTAVE;
/**
 * Lower bound of every bucket, BOUNDS[i − MIN_INDEX] = base^i, as 2^e · 2^(k/32): exact at powers of two,
 * within an ulp of the true (irrational) bound elsewhere. 10 KB, shared by all sketches.
 */
const BOUNDS = Float64Array.from(
  { length: MAX_BINS + 1 },
  (_, k) => 2 ** (Math.floor(k / PER_OCTAVE) + MIN_INDEX / PER_OCTAVE) * 2 ** ((k % PER_OCTAVE) / PER_OCTAVE),
);
/** Bucket i is represented by REP · base^(i+1), the value of least relative error over the bucket. */
const REP = 2 / (BASE + 1);

/** OTLP ExponentialHistogram data point, positive values only. */
export interface ExponentialView {
  scale: number;
  zeroCount: number;
  zeroThreshold: number;
  positive: { offset: number; bucketCounts: number[] };
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * Bucket index of ZERO_THRESHOLD < v ≤ 2^30. The logarithm alone is off by one for about a tenth of the
 * values next to a bound (powers of two included, which belong to the bucket below), so its estimate is
 * corrected against the bound table.
 */
function indexOf(v: number): number {
  let i = Math.ceil(Math.log2(v) * PER_OCTAVE) - 1;
  while (v <= BOUNDS[i - MIN_INDEX]) i--;
  while (v > BOUNDS[i + 1 - MIN_INDEX]) i++;
  return i;
}

/**
 * Quantile sketch of non-negative values (DDSketch-style, relative error ≤ 1.1%). Count, sum, min and
 * max are exact. Buckets live in a dense window over the indices seen, allocated on the first add
 * (32 bins) and doubled when a value falls outside, up to 1280 bins (10 KB) for the whole range:
 * memory is independent of the number of samples, and `add` allocates nothing once the range is covered.
 */
export class Sketch {
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;
  #rejected = 0;
  #zero = 0;
  #offset = 0;
  #bins: Float64Array | undefined;

  get count(): number {
    return this.#count;
  }
  get sum(): number {
    return this.#sum;
  }
  /** NaN when empty. */
  get min(): number {
    return this.#count ? this.#min : NaN;
  }
  /** NaN when empty. */
  get max(): number {
    return this.#count ? this.#max : NaN;
  }
  /** Values ignored because they were negative, NaN, infinite or not numbers. */
  get rejected(): number {
    return this.#rejected;
  }
  /** Bins allocated (for tests and diagnostics): at most 1280. */
  get capacity(): number {
    return this.#bins?.length ?? 0;
  }

  add(value: number): void {
    if (typeof value !== 'number' || !(value >= 0 && value < Infinity)) {
      this.#rejected++;
      return;
    }
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    if (value <= ZERO_THRESHOLD) this.#zero++;
    else this.#bump(value > 2 ** 30 ? MAX_INDEX : indexOf(value), 1);
  }

  mean(): number {
    return this.#count ? this.#sum / this.#count : NaN;
  }

  /** Lower quantile (rank q·(count−1)), clamped to [min, max]; NaN when empty or q outside [0, 1]. */
  quantile(q: number): number {
    if (!this.#count || !(q >= 0 && q <= 1)) return NaN;
    if (q === 0) return this.#min;
    if (q === 1) return this.#max;
    const rank = q * (this.#count - 1);
    let seen = this.#zero;
    let rep = 0; // the zero bucket's, clamped to min below
    const bins = this.#bins;
    if (bins && seen <= rank) {
      for (let k = 0; k < bins.length; k++) {
        if ((seen += bins[k]) > rank) {
          rep = REP * BOUNDS[this.#offset + k + 1 - MIN_INDEX];
          break;
        }
      }
    }
    return Math.min(Math.max(rep, this.#min), this.#max);
  }

  /** Empty sketches report zeros (with count 0) so the result stays plain JSON. */
  distribution(): Distribution {
    const z = (x: number): number => (this.#count ? x : 0);
    return {
      count: this.#count,
      mean: z(this.mean()),
      min: z(this.#min),
      max: z(this.#max),
      p50: z(this.quantile(0.5)),
      p90: z(this.quantile(0.9)),
      p95: z(this.quantile(0.95)),
      p99: z(this.quantile(0.99)),
    };
  }

  /** The buckets as an OTLP ExponentialHistogram point; min and max are 0 when empty. */
  exponential(): ExponentialView {
    const bins = this.#bins ?? new Float64Array(0);
    let first = 0;
    let end = bins.length;
    while (first < end && !bins[first]) first++;
    while (end > first && !bins[end - 1]) end--;
    const empty = !this.#count;
    return {
      scale: SCALE,
      zeroCount: this.#zero,
      zeroThreshold: ZERO_THRESHOLD,
      positive: { offset: first < end ? this.#offset + first : 0, bucketCounts: Array.from(bins.subarray(first, end)) },
      count: this.#count,
      sum: this.#sum,
      min: empty ? 0 : this.#min,
      max: empty ? 0 : this.#max,
    };
  }

  /** Empties the sketch and keeps its bins, so a sketch reset every export interval never reallocates. */
  reset(): void {
    this.#count = this.#sum = this.#rejected = this.#zero = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
    this.#bins?.fill(0);
  }

  merge(other: Sketch): void {
    const bins = other.#bins;
    if (bins) for (let k = 0; k < bins.length; k++) if (bins[k]) this.#bump(other.#offset + k, bins[k]);
    this.#count += other.#count;
    this.#sum += other.#sum;
    this.#rejected += other.#rejected;
    this.#zero += other.#zero;
    this.#min = Math.min(this.#min, other.#min);
    this.#max = Math.max(this.#max, other.#max);
  }

  #bump(i: number, n: number): void {
    let bins = this.#bins;
    if (!bins || i < this.#offset || i >= this.#offset + bins.length) bins = this.#grow(i);
    bins[i - this.#offset] += n;
  }

  /** Widens the window to include index i: doubles (at least) toward i; the first window is centred on i. */
  #grow(i: number): Float64Array {
    const old = this.#bins;
    const lo = old ? this.#offset : i;
    const hi = old ? lo + old.length - 1 : i;
    let size = old ? old.length * 2 : FIRST_BINS;
    while (size < Math.max(hi, i) - Math.min(lo, i) + 1) size *= 2;
    size = Math.min(size, MAX_BINS);
    const start = i < lo ? hi + 1 - size : old ? lo : i - size / 2;
    const offset = Math.min(Math.max(start, MIN_INDEX), MAX_INDEX + 1 - size);
    const bins = new Float64Array(size);
    if (old) bins.set(old, lo - offset);
    this.#offset = offset;
    return (this.#bins = bins);
  }
}
