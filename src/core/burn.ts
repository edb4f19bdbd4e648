import type { BurnReport, BurnWindow } from './types';

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** SRE workbook table 5-8: page on 1h/5m at 14.4 and 6h/30m at 6, ticket on 3d/6h at 1. */
export const SRE_WINDOWS: BurnWindow[] = [
  { longMs: HOUR, shortMs: 5 * MINUTE, factor: 14.4 },
  { longMs: 6 * HOUR, shortMs: 30 * MINUTE, factor: 6 },
  { longMs: 72 * HOUR, shortMs: 6 * HOUR, factor: 1 },
];

const SLOTS = 60;
/** `1 − objective` is inexact in binary: a burn exactly at the factor must still fire. */
const TOLERANCE = 1 - 1e-9;

/**
 * Good/bad turn counts over one window length: SLOTS slots of length/SLOTS ms, each tagged with its
 * slot number since time 0, so a slot left from an earlier lap is recognised and cleared when reused.
 * The window is the current slot and the 59 before it: it spans between 59/60 of the length and the
 * full length, i.e. it is exact to within one slot width.
 */
class Ring {
  readonly width: number;
  readonly epoch = new Float64Array(SLOTS).fill(-Infinity);
  readonly good = new Float64Array(SLOTS);
  readonly bad = new Float64Array(SLOTS);

  constructor(lengthMs: number) {
    this.width = lengthMs / SLOTS;
  }

  record(good: boolean, nowMs: number): void {
    const e = Math.floor(nowMs / this.width);
    const s = ((e % SLOTS) + SLOTS) % SLOTS;
    if (this.epoch[s] !== e) {
      // A turn older than the slot's data is outside every window that data is in.
      if (this.epoch[s] > e) return;
      this.epoch[s] = e;
      this.good[s] = this.bad[s] = 0;
    }
    if (good) this.good[s]++;
    else this.bad[s]++;
  }

  /** Bad and valid turns in the window ending at nowMs. */
  count(nowMs: number): [bad: number, valid: number] {
    const now = Math.floor(nowMs / this.width);
    let bad = 0;
    let good = 0;
    for (let s = 0; s < SLOTS; s++) {
      if (this.epoch[s] <= now && this.epoch[s] > now - SLOTS) {
        bad += this.bad[s];
        good += this.good[s];
      }
    }
    return [bad, bad + good];
  }
}

/**
 * Multi-window error-budget burn in constant memory: one ring per distinct window length (lengths shared
 * between pairs, like 6h in the SRE table, share a ring). Windows with a non-positive or non-finite
 * length are ignored.
 */
export class BurnTracker {
  readonly #pairs: Array<{ window: BurnWindow; long: Ring; short: Ring }> = [];
  readonly #rings: Ring[];
  readonly #budget: number;
  readonly #minEvents: number;

  constructor(windows: BurnWindow[], objective: number, minEvents: number) {
    const byLength = new Map<number, Ring>();
    const ring = (ms: number): Ring => {
      let r = byLength.get(ms);
      if (!r) byLength.set(ms, (r = new Ring(ms)));
      return r;
    };
    for (const { longMs, shortMs, factor } of windows) {
      if (!(longMs > 0 && shortMs > 0 && longMs < Infinity && shortMs < Infinity)) continue;
      this.#pairs.push({ window: { longMs, shortMs, factor }, long: ring(longMs), short: ring(shortMs) });
    }
    this.#rings = [...byLength.values()];
    this.#budget = 1 - objective;
    this.#minEvents = minEvents;
  }

  /** Distinct window lengths tracked, each one 60-slot ring (for tests and diagnostics). */
  get rings(): number {
    return this.#rings.length;
  }

  /** One valid turn ended at nowMs; a non-finite time is ignored. */
  record(good: boolean, nowMs: number): void {
    if (!Number.isFinite(nowMs)) return;
    const rings = this.#rings;
    for (let i = 0; i < rings.length; i++) rings[i].record(good, nowMs);
  }

  report(nowMs: number): BurnReport[] {
    return this.#pairs.map(({ window, long, short }) => {
      const [longBad, longValid] = long.count(nowMs);
      const [shortBad, shortValid] = short.count(nowMs);
      const longBurn = this.#burn(longBad, longValid);
      const shortBurn = this.#burn(shortBad, shortValid);
      const over = window.factor * TOLERANCE;
      return {
        ...window,
        longBurn,
        shortBurn,
        longValid,
        shortValid,
        firing:
          longBurn >= over && shortBurn >= over && longValid >= this.#minEvents && shortValid >= this.#minEvents,
      };
    });
  }

  /**
   * (bad / valid) / (1 − objective); 0 with no valid turns. With no budget (objective 1, or an objective
   * that is not a number) any bad turn burns at Infinity.
   */
  #burn(bad: number, valid: number): number {
    if (!bad) return 0;
    return this.#budget > 0 ? bad / valid / this.#budget : Infinity;
  }
}
