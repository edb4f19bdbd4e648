import { describe, expect, it } from 'vitest';
import { BurnTracker, SRE_WINDOWS } from '../src/core/burn';
import type { BurnReport } from '../src/core/types';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** [longBurn, shortBurn, longValid, shortValid, firing] per window pair, rounded for hand-computed values. */
function summary(reports: BurnReport[]): Array<[number, number, number, number, boolean]> {
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return reports.map((r) => [round(r.longBurn), round(r.shortBurn), r.longValid, r.shortValid, r.firing]);
}

/** Records one turn every 6 s (10 a minute) from turn `from` up to (excluding) `to`; `bad(k)` marks bad turns. */
function play(tracker: BurnTracker, from: number, to: number, bad: (k: number) => boolean): void {
  for (let k = from; k < to; k++) tracker.record(!bad(k), k * 6000);
}

describe('SRE_WINDOWS', () => {
  it('is the SRE workbook table 5-8', () => {
    expect(SRE_WINDOWS).toEqual([
      { longMs: HOUR, shortMs: 5 * MIN, factor: 14.4 },
      { longMs: 6 * HOUR, shortMs: 30 * MIN, factor: 6 },
      { longMs: 3 * DAY, shortMs: 6 * HOUR, factor: 1 },
    ]);
  });
});

describe('BurnTracker', () => {
  it('computes burn over the trailing windows of a synthetic history', () => {
    // 1200 turns over 2 h; the 100 turns of minutes 100..110 (k = 1000..1099) are bad.
    const t = new BurnTracker(SRE_WINDOWS, 0.99, 10);
    const bad = (k: number) => k >= 1000 && k < 1100;
    play(t, 0, 1100, bad);
    // End of the burst (110 min − 1 ms). 1h: minutes 50..110 → 600 turns, 100 bad → 16.667.
    // 5m: 105..110 → 50, all bad → 100. 6h and 3d: all 1100, 100 bad → 9.091. 30m: 80..110 → 300, 100 bad.
    expect(summary(t.report(110 * MIN - 1))).toEqual([
      [16.667, 100, 600, 50, true],
      [9.091, 33.333, 1100, 300, true],
      [9.091, 9.091, 1100, 1100, true],
    ]);
    play(t, 1100, 1200, bad);
    // At 2 h − 1 ms. 1h: minutes 60..120 → 600, 100 bad. 5m: 115..120 → 50 good: the page clears.
    // 30m: 90..120 → 300, 100 bad. 6h and 3d: 1200, 100 bad → 8.333.
    expect(summary(t.report(2 * HOUR - 1))).toEqual([
      [16.667, 0, 600, 50, false],
      [8.333, 33.333, 1200, 300, true],
      [8.333, 8.333, 1200, 1200, true],
    ]);
    // 40 min later nothing new: 1h holds minutes 100..120 (200 turns, all the bad ones); 30m is empty.
    expect(summary(t.report(160 * MIN - 1))).toEqual([
      [50, 0, 200, 0, false],
      [8.333, 0, 1200, 0, false],
      [8.333, 8.333, 1200, 1200, true],
    ]);
  });

  it('a 2-minute bad burst pages on neither 1h/5m nor 6h/30m, but tickets on 3d/6h', () => {
    // 10 turns a minute; the 20 turns of minutes 60..62 are bad.
    const t = new BurnTracker(SRE_WINDOWS, 0.99, 10);
    play(t, 0, 620, (k) => k >= 600);
    // 1h: minutes 2..62 → 600 turns, 20 bad → 3.333 < 14.4, although 5m (57..62: 50, 20 bad) burns at 40.
    // 30m: 32..62 → 300, 20 bad → 6.667 ≥ 6, but 6h (all 620) → 3.226 < 6. 3d and 6h: 3.226 ≥ 1.
    expect(summary(t.report(62 * MIN - 1))).toEqual([
      [3.333, 40, 600, 50, false],
      [3.226, 6.667, 620, 300, false],
      [3.226, 3.226, 620, 620, true],
    ]);
  });

  it('fires only when both windows reach the factor with at least minEvents turns each', () => {
    // Objective 0.5: a budget of exactly 0.5, so all-bad burns at 2.
    const t = new BurnTracker([{ longMs: 10 * MIN, shortMs: MIN, factor: 2 }], 0.5, 10);
    for (let k = 0; k < 9; k++) t.record(false, k);
    expect(t.report(10)[0]).toMatchObject({ longBurn: 2, shortBurn: 2, longValid: 9, shortValid: 9, firing: false });
    t.record(false, 9);
    expect(t.report(10)[0]).toMatchObject({ longValid: 10, shortValid: 10, firing: true });
    // Two minutes on, 10 good turns: the short window is all good, the long one burns at 1.
    for (let k = 0; k < 10; k++) t.record(true, 2 * MIN + k);
    expect(t.report(2 * MIN + 10)[0]).toMatchObject({ longBurn: 1, shortBurn: 0, longValid: 20, shortValid: 10, firing: false });
  });

  it('compares with the factor inclusively', () => {
    // 144 bad of 1000 at objective 0.99 is a burn of exactly 14.4 (14.39999… in binary).
    const at = new BurnTracker([SRE_WINDOWS[0]], 0.99, 10);
    const below = new BurnTracker([SRE_WINDOWS[0]], 0.99, 10);
    for (let k = 0; k < 1000; k++) {
      at.record(k >= 144, k);
      below.record(k >= 143, k);
    }
    expect(at.report(1000)[0].longBurn).toBeCloseTo(14.4, 9);
    expect(at.report(1000)[0].firing).toBe(true);
    expect(below.report(1000)[0].longBurn).toBeCloseTo(14.3, 9);
    expect(below.report(1000)[0].firing).toBe(false);
  });

  it('is exact to within one slot width (window / 60)', () => {
    const t = new BurnTracker([{ longMs: HOUR, shortMs: HOUR, factor: 1 }], 0.99, 1);
    t.record(false, 0); // slot [0, 1 min)
    expect(t.report(HOUR - 1)[0].longValid).toBe(1); // slot 59 is current: slot 0 is still in
    expect(t.report(HOUR)[0].longValid).toBe(0); // slot 60 is current: slot 0 has left
    expect(t.report(HOUR - 1)[0].longBurn).toBeCloseTo(100, 9);
  });

  it('survives time jumps of days and beyond without replaying elapsed time', () => {
    const t = new BurnTracker(SRE_WINDOWS, 0.99, 1);
    play(t, 0, 100, () => true);
    const later = 5 * DAY + 7;
    expect(summary(t.report(later))).toEqual([
      [0, 0, 0, 0, false],
      [0, 0, 0, 0, false],
      [0, 0, 0, 0, false],
    ]);
    // A slot reused after whole laps of the ring starts from zero.
    t.record(true, later);
    expect(summary(t.report(later))).toEqual([
      [0, 0, 1, 1, false],
      [0, 0, 1, 1, false],
      [0, 0, 1, 1, false],
    ]);
    const far = 1e15;
    t.record(false, far);
    expect(summary(t.report(far))).toEqual([
      [100, 100, 1, 1, true],
      [100, 100, 1, 1, true],
      [100, 100, 1, 1, true],
    ]);
    // A turn older than the data already in its slot is dropped rather than clearing newer data.
    t.record(true, far - HOUR);
    expect(t.report(far)[0]).toMatchObject({ longValid: 1, shortValid: 1 });
  });

  it('judges pairs of the same lengths each against its own factor', () => {
    const shared = new BurnTracker([{ longMs: HOUR, shortMs: 5 * MIN, factor: 2 }, { longMs: HOUR, shortMs: 5 * MIN, factor: 3 }], 0.5, 1);
    shared.record(false, 0);
    expect(summary(shared.report(1))).toEqual([
      [2, 2, 1, 1, true],
      [2, 2, 1, 1, false],
    ]);
  });

  it('objective 1 has no budget: Infinity on any bad turn, 0 otherwise; no turns burn 0', () => {
    const t = new BurnTracker([SRE_WINDOWS[0]], 1, 1);
    expect(t.report(0)[0]).toMatchObject({ longBurn: 0, shortBurn: 0, longValid: 0, firing: false });
    t.record(true, 0);
    expect(t.report(0)[0]).toMatchObject({ longBurn: 0, shortBurn: 0, longValid: 1, firing: false });
    t.record(false, 1);
    expect(t.report(1)[0]).toMatchObject({ longBurn: Infinity, shortBurn: Infinity, longValid: 2, firing: true });
  });

  it('objective 0 spends the whole budget only when every turn is bad', () => {
    const t = new BurnTracker([{ longMs: HOUR, shortMs: MIN, factor: 1 }], 0, 1);
    t.record(false, 0);
    t.record(true, 1);
    expect(t.report(2)[0]).toMatchObject({ longBurn: 0.5, shortBurn: 0.5, firing: false });
  });

  it('never throws on windows of zero, NaN or infinite length; an infinite one spans the session', () => {
    const t = new BurnTracker(
      [{ longMs: 0, shortMs: MIN, factor: 1 }, { longMs: NaN, shortMs: MIN, factor: 1 }, { longMs: Infinity, shortMs: MIN, factor: 1 }, SRE_WINDOWS[0]],
      0.99,
      1,
    );
    for (let i = 0; i < 5; i++) t.record(false, 1000 * i);
    const reports = t.report(5000);
    expect(reports.slice(0, 3).map((r) => [r.firing, r.longValid])).toEqual([
      [false, 0],
      [false, 0],
      [true, 5],
    ]);
    expect(reports[3]).toMatchObject({ longValid: 5, shortValid: 5, firing: true });
  });
});

describe('BurnTracker and the generated Prometheus rules', () => {
  it('judge the history of test/fixtures/slo/voice-agent.test.yml alike', () => {
    // 10 valid turns a minute; from minute 120, 5 of them bad. As promtool evaluates it at 130 and 190
    // minutes: 1h 8.333 / 5m 50, no page; then 1h and 5m at 50, and 3d at 350 / 1900 / 0.01.
    const t = new BurnTracker(SRE_WINDOWS, 0.99, 10);
    const minute = (m: number) => {
      for (let k = 0; k < 10; k++) t.record(!(m >= 120 && k < 5), m * MIN + k * 6000);
    };
    for (let m = 0; m < 130; m++) minute(m);
    expect(summary(t.report(130 * MIN - 1))).toEqual([
      [8.333, 50, 600, 50, false],
      [3.846, 16.667, 1300, 300, false],
      [3.846, 3.846, 1300, 1300, true],
    ]);
    for (let m = 130; m < 190; m++) minute(m);
    expect(summary(t.report(190 * MIN - 1))).toEqual([
      [50, 50, 600, 50, true],
      [18.421, 50, 1900, 300, true],
      [18.421, 18.421, 1900, 1900, true],
    ]);
  });
});
