import { describe, expect, it } from 'vitest';
import { rng } from '../bench/jitter-traces';
import { Sketch } from '../src/core/sketch';

const BASE = 2 ** (1 / 32);
/** Worst relative error of a bucket representative: (base − 1) / (base + 1) ≈ 1.083%. */
const ALPHA = (BASE - 1) / (BASE + 1);
/** Bins allocated: none, or the zero bucket and the 1280 of the whole range. */
const capacity = (s: Sketch): number => s._bins?.length ?? 0;


function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const distributions: Record<string, (rand: () => number) => number> = {
  uniform: (rand) => 1 + rand() * 999,
  lognormal: (rand) => Math.exp(Math.log(200) + 0.8 * normal(rand)),
  bimodal: (rand) => (rand() < 0.7 ? 40 + 5 * normal(rand) : 900 + 60 * normal(rand)),
  constant: () => 123.4,
  pareto: (rand) => 10 / (1 - rand()) ** (1 / 1.2),
};

describe('Sketch accuracy', () => {
  for (const [name, draw] of Object.entries(distributions)) {
    it(`${name}: quantiles within ${(ALPHA * 100).toFixed(3)}%, exact count/min/max/mean`, () => {
      const rand = rng(42);
      const s = new Sketch();
      const values: number[] = [];
      let sum = 0;
      for (let k = 0; k < 100_000; k++) {
        const v = draw(rand);
        values.push(v);
        sum += v;
        s.add(v);
      }
      values.sort((a, b) => a - b);
      for (const q of [0.5, 0.9, 0.95, 0.99]) {
        const exact = values[Math.floor(q * (values.length - 1))];
        // A value within a float step of a bound may sit in the neighbouring bucket: still ALPHA at most.
        expect(Math.abs(s.quantile(q) - exact) / exact).toBeLessThanOrEqual(ALPHA * (1 + 1e-9));
      }
      const d = s.distribution();
      expect(d).toEqual({
        count: 100_000,
        mean: sum / 100_000,
        min: values[0],
        max: values[values.length - 1],
        p50: s.quantile(0.5),
        p90: s.quantile(0.9),
        p95: s.quantile(0.95),
        p99: s.quantile(0.99),
      });
      if (name === 'constant') expect([d.p50, d.p90, d.p95, d.p99]).toEqual([123.4, 123.4, 123.4, 123.4]);
    });
  }

  it('returns the representative of the bucket holding the lower-rank value', () => {
    const s = new Sketch();
    for (const v of [1, 2, 3]) s.add(v);
    // rank 0.5·2 = 1 → the value 2, which is in bucket (2^(31/32), 2]: representative 2·2/(base+1).
    expect(s.quantile(0.5)).toBeCloseTo(4 / (BASE + 1), 12);
    expect(s.quantile(0.5)).toBeLessThan(2);
    expect(s.quantile(0.25)).toBe(1); // bucket (2^(-1/32), 1]: its representative is below min, clamped
  });

  it('is empty-safe: zeros in the distribution, nothing allocated', () => {
    const s = new Sketch();
    expect(capacity(s)).toBe(0);
    expect(s.distribution()).toEqual({ count: 0, mean: 0, min: 0, max: 0, p50: 0, p90: 0, p95: 0, p99: 0 });
  });

  it('ignores negative, NaN, infinite and non-number values', () => {
    const s = new Sketch();
    for (const v of [NaN, -1, -Infinity, Infinity, '5', undefined]) s.add(v as number);
    expect(s.distribution().count).toBe(0);
    expect(capacity(s)).toBe(0);
    s.add(5);
    expect(s.distribution()).toEqual({ count: 1, mean: 5, min: 5, max: 5, p50: 5, p90: 5, p95: 5, p99: 5 });
  });

  it('puts 0 and values up to 2^-10 in the zero bucket, reported as the minimum', () => {
    const s = new Sketch();
    for (const v of [1e-4, 0, 2 ** -10]) s.add(v);
    s.add(5);
    expect(s.quantile(0.5)).toBe(0); // rank 1.5 → second smallest, in the zero bucket → min
    expect(s.quantile(1)).toBe(5);
  });

  it('puts values above 2^30 in the top bucket, still exact at min/max', () => {
    const s = new Sketch();
    s.add(2 ** 40);
    expect(s.quantile(0.5)).toBe(2 ** 40);
    s.add(1);
    expect(s.distribution()).toMatchObject({ count: 2, min: 1, max: 2 ** 40 });
  });
});

describe('Sketch memory', () => {
  it('caps storage at 1280 bins over the whole range for 1e6 adds', () => {
    const rand = rng(5);
    const s = new Sketch();
    for (let k = 0; k < 1_000_000; k++) s.add(10 ** (rand() * 14 - 4)); // 1e-4 .. 1e10
    expect(capacity(s)).toBe(1281);
    expect(s.distribution().count).toBe(1_000_000);
    expect(Math.log10(s.quantile(0.5))).toBeCloseTo(3, 1);
  });

  it('allocates its bins once, on the first value, and never again', () => {
    const rand = rng(9);
    const s = new Sketch();
    s.add(30);
    const bins = s._bins;
    expect(capacity(s)).toBe(1281);
    for (let k = 0; k < 1_000_000; k++) s.add(10 ** (rand() * 14 - 4));
    expect(s._bins).toBe(bins);
  });
});
