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
  readonly #width: number;
  readonly #epoch = new Float64Array(SLOTS).fill(-Infinity);
  readonly #good = new Float64Array(SLOTS);
  readonly #bad = new Float64Array(SLOTS);

  constructor(lengthMs: number) {
    this.#width = lengthMs / SLOTS;
  }

  record(good: boolean, nowMs: number): void {
    const e = Math.floor(nowMs / this.#width);
    const s = ((e % SLOTS) + SLOTS) % SLOTS;
    if (this.#epoch[s] !== e) {
      // A turn older than the slot's data is outside every window that data is in.
      if (this.#epoch[s] > e) return;
      this.#epoch[s] = e;
      this.#good[s] = this.#bad[s] = 0;
    }
    if (good) this.#good[s]++;
    else this.#bad[s]++;
  }

  /**
   * Burn rate and valid turns in the window ending at nowMs. Burn = (bad / valid) / budget; 0 with no
   * bad turn. With no budget (objective 1, or an objective that is not a number) any bad turn burns at Infinity.
   */
  burn(nowMs: number, budget: number): [burn: number, valid: number] {
    const now = Math.floor(nowMs / this.#width);
    let bad = 0;
    let good = 0;
    for (let s = 0; s < SLOTS; s++) {
      if (this.#epoch[s] <= now && this.#epoch[s] > now - SLOTS) {
        bad += this.#bad[s];
        good += this.#good[s];
      }
    }
    const valid = bad + good;
    return [!bad ? 0 : budget > 0 ? bad / valid / budget : Infinity, valid];
  }
}

/**
 * Multi-window error-budget burn in constant memory: two rings per window pair. Windows with a
 * non-positive or non-finite length are ignored.
 */
export class BurnTracker {
  readonly #pairs: Array<{ window: BurnWindow; long: Ring; short: Ring }>;
  readonly #budget: number;
  readonly #minEvents: number;

  constructor(windows: BurnWindow[], objective: number, minEvents: number) {
    this.#pairs = windows.map(({ longMs, shortMs, factor }) => ({
        window: { longMs, shortMs, factor },
        long: new Ring(longMs),
        short: new Ring(shortMs),
      }));
    this.#budget = 1 - objective;
    this.#minEvents = minEvents;
  }

  /** One valid turn ended at nowMs. */
  record(good: boolean, nowMs: number): void {
    for (const { long, short } of this.#pairs) {
      long.record(good, nowMs);
      short.record(good, nowMs);
    }
  }

  report(nowMs: number): BurnReport[] {
    return this.#pairs.map(({ window, long, short }) => {
      const [longBurn, longValid] = long.burn(nowMs, this.#budget);
      const [shortBurn, shortValid] = short.burn(nowMs, this.#budget);
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
}
