import { isCount } from './options';
import type { Distribution } from './types';

/**
 * Buckets as OpenTelemetry's exponential histogram at scale 5: 32 per power of two, base = 2^(1/32),
 * bucket i holding (base^i, base^(i+1)]. The index comes from a logarithm, so a value within a float
 * step of a bound may land in the neighbouring bucket: harmless for a 1.1% quantile bound.
 */
const PER_OCTAVE = 32;
const BASE = 2 ** (1 / PER_OCTAVE);
/**
 * Bucket range (2^-10, 2^30]: 1 µs to 12 days in ms, and any ratio of interest. Values at or below
 * 2^-10 go to the zero bucket, larger ones to the top bucket.
 */
const MIN_INDEX = -10 * PER_OCTAVE;
const MAX_INDEX = 30 * PER_OCTAVE - 1;
const BINS = MAX_INDEX - MIN_INDEX + 1;
/** Bucket i is represented by REP · base^(i+1), the value of least relative error over the bucket. */
const REP = 2 / (BASE + 1);

/**
 * Quantile sketch of non-negative values (DDSketch-style, relative error ≤ 1.1%). Count, mean, min and
 * max are exact. The zero bucket and the bins of the whole range (1281 counts, 5 KB) are allocated on
 * the first value: memory is independent of the number of samples, and `add` allocates nothing after
 * that. (A window over the indices seen, grown as values fell outside it, kept a narrow sketch at 32
 * to 256 bins, for code that weighed more in the core's size budget than 5 KB per open turn weighs
 * in memory.)
 */
export class Sketch {
  #count = 0;
  #sum = 0;
  #min = Infinity;
  #max = -Infinity;
  /**
   * The zero bucket, then the buckets of the range; allocated on the first value (read by tests). A
   * field from the start, so every sketch has one shape: V8 deoptimized `add` when a new turn's
   * sketch, not yet given its first value, came in another. A plain array of small integers, in the
   * JS heap: counted in a Float64Array, whose memory is outside it, one bin a WebSocket message cost
   * 1–2 % of the messages a page reads in short bursts (BENCHMARKS.md), the heap's array nothing
   * measurable. A count past 2^30 turns it into an array of doubles, as exact.
   */
  _bins: number[] | undefined;

  add(value: number): void {
    // Negative, NaN, infinite and non-number values are not latencies: ignored.
    if (!isCount(value)) return;
    this.#count++;
    this.#sum += value;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    // Values at or below the zero threshold (log2(0) is -Infinity) land in the zero bucket, larger
    // ones than the range in the top bucket.
    const i = Math.max(Math.min(Math.ceil(Math.log2(value) * PER_OCTAVE) - 1, MAX_INDEX), MIN_INDEX - 1);
    (this._bins ??= Array<number>(BINS + 1).fill(0))[i - MIN_INDEX + 1]++;
  }

  /** Lower quantile (rank q·(count−1)) of a non-empty sketch for q in [0, 1], clamped to [min, max]. */
  quantile(q: number): number {
    const rank = q * (this.#count - 1);
    const bins = this._bins;
    let seen = 0;
    let k = 0;
    // Empty, there are no bins: NaN ends the walk at once.
    while ((seen += bins?.[k]!) <= rank) k++;
    // The zero bucket's representative is 0, clamped to min.
    return Math.min(Math.max(k && REP * BASE ** (MIN_INDEX + k), this.#min), this.#max);
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
}
