import { describe, expect, it } from 'vitest';
import { Sketch } from '../src/core/sketch';

const BASE = 2 ** (1 / 32);
/** Worst relative error of a bucket representative: (base − 1) / (base + 1) ≈ 1.083%. */
const ALPHA = (BASE - 1) / (BASE + 1);

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const f64 = new Float64Array(1);
const bits = new BigInt64Array(f64.buffer);
function nextUp(v: number): number {
  f64[0] = v;
  bits[0] += 1n;
  return f64[0];
}
function nextDown(v: number): number {
  f64[0] = v;
  bits[0] -= 1n;
  return f64[0];
}

/** The bucket index a single value lands in. */
function bucketOf(v: number): number {
  const s = new Sketch();
  s.add(v);
  const view = s.exponential();
  expect(view.positive.bucketCounts).toEqual([1]);
  return view.positive.offset;
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
    it(`${name}: quantiles within ${(ALPHA * 100).toFixed(3)}%, exact count/sum/min/max/mean`, () => {
      const rand = mulberry32(42);
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
      expect(s.count).toBe(100_000);
      expect(s.sum).toBe(sum);
      expect(s.mean()).toBe(sum / 100_000);
      expect(s.min).toBe(values[0]);
      expect(s.max).toBe(values[values.length - 1]);
      expect(s.quantile(0)).toBe(values[0]);
      expect(s.quantile(1)).toBe(values[values.length - 1]);
      for (const q of [0.5, 0.9, 0.95, 0.99]) {
        const exact = values[Math.floor(q * (values.length - 1))];
        expect(Math.abs(s.quantile(q) - exact) / exact).toBeLessThanOrEqual(ALPHA);
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

  it('is empty-safe: NaN from queries, zeros in the distribution and view', () => {
    const s = new Sketch();
    expect(s.quantile(0.5)).toBeNaN();
    expect(s.mean()).toBeNaN();
    expect(s.min).toBeNaN();
    expect(s.max).toBeNaN();
    expect(s.count).toBe(0);
    expect(s.capacity).toBe(0); // nothing allocated before the first add
    expect(s.distribution()).toEqual({ count: 0, mean: 0, min: 0, max: 0, p50: 0, p90: 0, p95: 0, p99: 0 });
    expect(s.exponential()).toEqual({
      scale: 5,
      zeroCount: 0,
      zeroThreshold: 2 ** -10,
      positive: { offset: 0, bucketCounts: [] },
      count: 0,
      sum: 0,
      min: 0,
      max: 0,
    });
  });

  it('rejects negative, NaN, infinite and non-number values and q outside [0, 1]', () => {
    const s = new Sketch();
    for (const v of [NaN, -1, -Infinity, Infinity, '5', undefined]) s.add(v as number);
    expect(s.rejected).toBe(6);
    expect(s.count).toBe(0);
    s.add(5);
    expect(s.count).toBe(1);
    expect(s.sum).toBe(5);
    expect(s.quantile(-0.1)).toBeNaN();
    expect(s.quantile(1.1)).toBeNaN();
    expect(s.quantile(NaN)).toBeNaN();
  });

  it('puts 0 and values up to 2^-10 in the zero bucket', () => {
    const s = new Sketch();
    for (const v of [1e-4, 0, 2 ** -10, 5]) s.add(v);
    const view = s.exponential();
    expect(view.zeroCount).toBe(3);
    expect(view.positive.bucketCounts.reduce((a, b) => a + b, 0)).toBe(1);
    expect(s.quantile(0.5)).toBe(0); // rank 1.5 → second smallest, in the zero bucket → min
    expect(s.min).toBe(0);
    expect(bucketOf(nextUp(2 ** -10))).toBe(-320);
  });

  it('puts values above 2^30 in the top bucket, still exact at min/max', () => {
    const s = new Sketch();
    s.add(2 ** 40);
    expect(s.exponential().positive).toEqual({ offset: 959, bucketCounts: [1] });
    expect(s.quantile(0.5)).toBe(2 ** 40);
  });
});

describe('Sketch buckets (OTel exponential, scale 5)', () => {
  it('puts an exact power of two in the bucket below (upper-inclusive)', () => {
    for (let k = -9; k <= 30; k++) {
      expect(bucketOf(2 ** k)).toBe(32 * k - 1);
      expect(bucketOf(nextDown(2 ** k))).toBe(32 * k - 1);
      if (k < 30) expect(bucketOf(nextUp(2 ** k))).toBe(32 * k);
    }
  });

  it('indexes correctly just either side of every bucket bound', () => {
    for (let i = -319; i <= 959; i++) {
      const bound = BASE ** i;
      expect(bucketOf(bound * (1 + 1e-12))).toBe(i);
      expect(bucketOf(bound * (1 - 1e-12))).toBe(i - 1);
    }
  });

  it('treats each bound, as the double 2^e·2^(k/32), as upper-inclusive, one ulp either side', () => {
    // The logarithm alone misplaces about a tenth of these.
    for (let e = -10; e < 30; e++) {
      for (let k = 1; k < 32; k++) {
        const bound = 2 ** e * 2 ** (k / 32);
        expect(bucketOf(nextDown(bound))).toBe(32 * e + k - 1);
        expect(bucketOf(bound)).toBe(32 * e + k - 1);
        expect(bucketOf(nextUp(bound))).toBe(32 * e + k);
      }
    }
  });

  it('places random values v in bucket i with base^i < v ≤ base^(i+1)', () => {
    const rand = mulberry32(7);
    for (let k = 0; k < 5000; k++) {
      const v = 2 ** (rand() * 40 - 10);
      const i = bucketOf(v);
      expect(BASE ** i).toBeLessThan(v);
      expect(v).toBeLessThanOrEqual(BASE ** (i + 1));
    }
  });

  it('exports counts that sum to count, at the right indices', () => {
    const rand = mulberry32(3);
    const s = new Sketch();
    const expected = new Map<number, number>();
    for (let k = 0; k < 20_000; k++) {
      const v = Math.exp(Math.log(50) + normal(rand));
      s.add(v);
      const i = Math.ceil(Math.log2(v) * 32) - 1;
      expected.set(i, (expected.get(i) ?? 0) + 1);
    }
    s.add(0);
    const view = s.exponential();
    expect(view.scale).toBe(5);
    expect(view.zeroCount).toBe(1);
    expect(view.count).toBe(20_001);
    expect(view.zeroCount + view.positive.bucketCounts.reduce((a, b) => a + b, 0)).toBe(20_001);
    const indices = [...expected.keys()];
    expect(view.positive.offset).toBe(Math.min(...indices));
    expect(view.positive.bucketCounts.length).toBe(Math.max(...indices) - Math.min(...indices) + 1);
    view.positive.bucketCounts.forEach((n, k) => expect(n).toBe(expected.get(view.positive.offset + k) ?? 0));
    expect(view.positive.bucketCounts[0]).toBeGreaterThan(0);
    expect(view.positive.bucketCounts[view.positive.bucketCounts.length - 1]).toBeGreaterThan(0);
  });
});

describe('Sketch merge, reset and memory', () => {
  it('merge equals adding everything to one sketch', () => {
    const rand = mulberry32(11);
    const a = new Sketch();
    const b = new Sketch();
    const all = new Sketch();
    for (let k = 0; k < 10_000; k++) {
      // Disjoint ranges, so merging has to grow a's window.
      const v = k % 2 ? 1e-3 * (1 + rand()) : 1e6 * (1 + rand());
      (k % 2 ? a : b).add(v);
      all.add(v);
    }
    a.add(0);
    all.add(0);
    b.add(-1);
    all.add(-1);
    a.merge(b);
    const { sum: mergedSum, ...merged } = a.exponential();
    const { sum: allSum, ...whole } = all.exponential();
    expect(merged).toEqual(whole);
    expect(mergedSum).toBeCloseTo(allSum, 3);
    expect(a.rejected).toBe(1);
    for (const q of [0, 0.1, 0.5, 0.9, 0.99, 1]) expect(a.quantile(q)).toBe(all.quantile(q));
  });

  it('merges into and from empty sketches', () => {
    const a = new Sketch();
    const b = new Sketch();
    b.add(3);
    b.add(7);
    a.merge(new Sketch());
    expect(a.count).toBe(0);
    expect(a.min).toBeNaN();
    a.merge(b);
    expect([a.count, a.sum, a.min, a.max]).toEqual([2, 10, 3, 7]);
    expect(a.exponential().positive.bucketCounts).toEqual(b.exponential().positive.bucketCounts);
  });

  it('reset empties the sketch and keeps its bins', () => {
    const s = new Sketch();
    for (let v = 1; v <= 1000; v++) s.add(v);
    const capacity = s.capacity;
    s.add(-1);
    s.reset();
    expect([s.count, s.sum, s.rejected, s.capacity]).toEqual([0, 0, 0, capacity]);
    expect(s.quantile(0.5)).toBeNaN();
    s.add(42);
    expect(s.exponential().positive.bucketCounts).toEqual([1]);
    expect([s.min, s.max, s.quantile(0.5)]).toEqual([42, 42, 42]);
  });

  it('caps storage at 1280 bins over the whole range for 1e6 adds', () => {
    const rand = mulberry32(5);
    const s = new Sketch();
    for (let k = 0; k < 1_000_000; k++) s.add(10 ** (rand() * 14 - 4)); // 1e-4 .. 1e10
    expect(s.capacity).toBe(1280);
    const view = s.exponential();
    expect(view.positive.offset).toBe(-320);
    expect(view.positive.bucketCounts.length).toBe(1280);
    expect(view.count).toBe(1_000_000);
  });

  it('stays small for a narrow range and stops growing once it is covered', () => {
    const rand = mulberry32(9);
    const s = new Sketch();
    s.add(30);
    expect(s.capacity).toBe(32);
    for (let k = 0; k < 1000; k++) s.add(10 + rand() * 90);
    const capacity = s.capacity;
    // 10..100 spans buckets 106..212; from 30's window [141, 172] it doubles up to [141, 268], then down.
    expect(capacity).toBe(256);
    for (let k = 0; k < 1_000_000; k++) s.add(10 + rand() * 90);
    expect(s.capacity).toBe(capacity);
  });
});
