import { ATTACH, CJK, OPEN, SPACE, WORD, charClass } from './segment';

export interface TextSmootherOptions {
  /**
   * Longest a unit may wait past the arrival of its first character before it is released: the
   * bound on the delay smoothing adds. Beyond it the buffer catches up. Default 250 ms.
   */
  maxDelayMs?: number;
  /** Units queued at most; a unit that does not fit is merged into the last queued one (counted). Default 256. */
  capacity?: number;
}

/**
 * One turn of smoothed text. A unit is what is released at once: a word with the whitespace before
 * it and the punctuation after it, or one CJK character. Intervals are between consecutive units;
 * units released together count a zero interval, as the reader sees them.
 */
export interface TextSmootherStats {
  /** Units released. */
  units: number;
  /** Units queued or held, not yet released. */
  pending: number;
  /** Delay smoothing added to each unit: release time − arrival of its first character. */
  delayMeanMs: number;
  delayMaxMs: number;
  /** Jitter as the text arrived: σ of the intervals between consecutive units' arrivals. */
  arrivalJitterMs: number;
  arrivalMaxGapMs: number;
  /** Jitter as the text was released to the reader: σ of the intervals between releases. */
  displayJitterMs: number;
  displayMaxGapMs: number;
  /** Current pace: the source's interval per unit over the last second or so; undefined until known. */
  intervalMs?: number;
  /** Current target delay: the gaps the source has been leaving, within `maxDelayMs`. */
  targetDelayMs: number;
  /** Units merged into the one before because the queue was full. */
  merged: number;
  /**
   * Fragments released before the rest of their word arrived (a unit still arriving is released
   * at its turn rather than held for its end, which may be far off).
   */
  partial: number;
  /** Since the smoother was made: deltas that were not strings, times that were not finite numbers. */
  invalid: number;
}

/** Time constant of the source's rate estimate (ms): spans a few bursts of a batching server. */
const RATE_WINDOW_MS = 1000;
/** Time constant (ms) over which the target delay forgets a gap once the gaps shrink. */
const TARGET_WINDOW_MS = 2000;

const finite = (v: unknown): v is number => typeof v === 'number' && v - v === 0;

/** Running mean, variance (Welford) and maximum of a series, in constant memory. */
class Series {
  count = 0;
  mean = 0;
  m2 = 0;
  max = 0;

  add(v: number): void {
    const d = v - this.mean;
    this.mean += d / ++this.count;
    this.m2 += d * (v - this.mean);
    if (v > this.max) this.max = v;
  }

  get stddev(): number {
    return this.count ? Math.sqrt(this.m2 / this.count) : 0;
  }

  reset(): void {
    this.count = this.mean = this.m2 = this.max = 0;
  }
}

/**
 * A jitter buffer for text: takes deltas as they arrive (tokens, transcript words) and releases
 * them unit by unit at a steady pace that follows the source's rate, never holding a unit longer
 * than `maxDelayMs`. Driven by explicit time, with no DOM: `push` deltas, `poll` at or after
 * `nextAt()`, `end` the turn. Memory is bounded by the queue's capacity, not by the turn's length,
 * and nothing here throws on bad input.
 *
 * The pace: after each release, the next unit is due one source interval later (the source's
 * average interval per unit over about a second), or sooner if an even pace would otherwise release
 * some queued unit later than the target delay after its arrival. The target delay follows the gaps
 * the source leaves between deltas (up at once, down over a few seconds), within `maxDelayMs`: a
 * steady source passes through with almost no delay, bursts are spread over the gap that follows
 * them, and a source speeding up drains the queue evenly instead of in a lump at the bound.
 */
export class TextSmoother {
  private readonly _maxDelay: number;
  private readonly _cap: number;
  /** Queued units and the arrival of each one's first character: a ring of fixed capacity. */
  private readonly _text: string[];
  private readonly _at: Float64Array;
  private _head = 0;
  private _size = 0;
  /** The unit being received: its text, whether it has visible content, when that content began. */
  private _part = '';
  private _content = false;
  private _partAt = 0;
  /** WORD or CJK once the unit has a base character, else SPACE. */
  private _base = SPACE;
  /** A fragment of the word being received was released already. */
  private _split = false;
  /** High surrogate that ended the last delta, waiting for its pair. */
  private _high = '';
  private _open = false;
  private _now = 0;
  /** When the last release was due, the base of the next; -Infinity before the first. */
  private _last = -Infinity;
  /** Time of the last push or poll: a release is never due earlier than the last look. */
  private _seen = 0;
  /** The delay the pace aims to stay within: the gaps the source has been leaving, up to the bound. */
  private _target = 0;
  // Source rate: exponentially weighted sums of time between pushes and of units completed.
  private _rateT = 0;
  private _rateN = 0;
  private _pushAt = NaN;
  /** Units of the previous turn still queued when this one started: its stats restart after them. */
  private _carry = 0;
  // Stats of the turn.
  private _units = 0;
  private _delaySum = 0;
  private _delayMax = 0;
  private readonly _arrival = new Series();
  private readonly _display = new Series();
  private _prevAt = 0;
  private _prevShown = 0;
  private _merged = 0;
  private _partial = 0;
  private _invalid = 0;
  private _first = NaN;

  constructor(options: TextSmootherOptions = {}) {
    const num = (v: unknown, d: number, lo: number, hi: number): number => (finite(v) && v >= lo && v <= hi ? v : d);
    this._maxDelay = num(options.maxDelayMs, 250, 0, 60000);
    this._cap = Math.floor(num(options.capacity, 256, 1, 65536));
    this._text = new Array<string>(this._cap).fill('');
    this._at = new Float64Array(this._cap);
  }

  /** Release time of the turn's first unit (its time to first display), NaN until then. */
  get firstReleaseMs(): number {
    return this._first;
  }

  /** Text that arrived at nowMs. The first push after `end()` starts a new turn. */
  push(delta: string, nowMs: number): void {
    const now = this._time(nowMs);
    if (typeof delta !== 'string') {
      this._invalid++;
      return;
    }
    if (!delta) return;
    const first = !this._open;
    if (first) {
      this._open = true;
      this._carry = this._size;
      if (!this._carry) this._resetStats();
    }
    const text = this._high ? this._high + delta : delta;
    let end = text.length;
    const tail = text.charCodeAt(end - 1);
    this._high = tail >= 0xd800 && tail <= 0xdbff ? text[--end] : '';
    let start = 0;
    let completed = 0;
    for (let i = 0; i < end; ) {
      let cp = text.charCodeAt(i);
      let width = 1;
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < end) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = ((cp - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
          width = 2;
        }
      }
      const c = charClass(cp);
      // A unit ends at whitespace after content, before a CJK character or opening bracket once it
      // has a base character, and before a word that follows CJK. A word released in fragments
      // ends there too: its last fragment, if any, is queued and the word counts once.
      const cut =
        c === SPACE ? this._content || this._split : c === CJK || c === OPEN ? this._base !== SPACE : c === WORD && this._base === CJK;
      if (cut) {
        const unit = this._part + text.slice(start, i);
        if (unit) this._enqueue(unit, this._partAt);
        completed++;
        this._part = '';
        this._content = this._split = false;
        this._base = SPACE;
        start = i;
      }
      if (c === SPACE) this._base = SPACE;
      else {
        if (!this._content) {
          this._content = true;
          this._partAt = now;
          // More of a word whose start was released already: that start was a fragment.
          if (this._split) this._partial++;
        }
        if (c !== ATTACH && c !== OPEN) this._base = c;
      }
      i += width;
    }
    this._part += text.slice(start, end);
    // Units completed by this push arrived over the time since the previous one. A gap longer than
    // the bound counts as the bound: a pause must not slow the pace after it, and nothing can be
    // held across a longer gap anyway. The target delay rises at once to a gap and forgets it slowly.
    if (!first) {
      const gap = Math.min(now - this._pushAt, this._maxDelay);
      const w = Math.exp(-(now - this._pushAt) / RATE_WINDOW_MS);
      this._rateT = this._rateT * w + gap;
      this._rateN = this._rateN * w + completed;
      this._target = Math.max(gap, this._target * Math.exp(-(now - this._pushAt) / TARGET_WINDOW_MS));
    }
    this._pushAt = this._seen = now;
  }

  /** Text released at nowMs: every unit due by then, in order ('' when none is). */
  poll(nowMs: number): string {
    const now = this._time(nowMs);
    let out = '';
    // A release is due no earlier than the last look (a push may have pulled the schedule into the
    // past); the pace runs from when it was due, so polls that come late do not slow it down.
    for (let due = this.nextAt(); due <= now; due = this.nextAt()) out += this._release(Math.max(due, this._seen), now);
    this._seen = now;
    return out;
  }

  /**
   * When the next unit is due (ms, same clock as the pushes); Infinity when nothing waits. Polling
   * earlier releases nothing; polling later releases everything due by then.
   */
  nextAt(): number {
    const size = this._size;
    if (!size && !this._content) return !this._open && (this._part || this._high) ? this._now : Infinity;
    const at = this._at;
    const head = size ? at[this._head] : this._partAt;
    const base = this._last;
    if (base === -Infinity) return head;
    // At most the source's interval; less if an even pace from here would miss a deadline.
    let step = this._interval();
    const limit = this._target - base;
    for (let k = 0; k < size; k++) step = Math.min(step, (at[(this._head + k) % this._cap] + limit) / (k + 1));
    if (this._content) step = Math.min(step, (this._partAt + limit) / (size + 1));
    return Math.max(base + Math.max(0, step), head);
  }

  /**
   * The turn's text is complete (at nowMs): the word held for its end is queued, and what is queued
   * is released at the same pace, each unit within the bound.
   */
  end(nowMs: number): void {
    this._time(nowMs);
    if (!this._open) return;
    this._open = false;
    if (this._content) {
      this._enqueue(this._part + this._high, this._partAt);
      this._part = this._high = '';
      this._content = false;
    } else if (this._size) {
      // Trailing whitespace goes out with the last word rather than as a unit of its own.
      const last = (this._head + this._size - 1) % this._cap;
      this._text[last] += this._part + this._high;
      this._part = this._high = '';
    }
    this._base = SPACE;
    this._split = false;
  }

  /** Releases everything queued or held now (a fragment of a word still arriving included). */
  flush(nowMs: number): string {
    const now = this._time(nowMs);
    let out = '';
    while (this.nextAt() < Infinity) out += this._release(now, now);
    this._seen = now;
    return out;
  }

  /** Stats of the turn being released (the previous one until this turn's first unit is out). */
  stats(): TextSmootherStats {
    const units = this._units;
    const interval = this._interval();
    return {
      units,
      pending: this._size + +this._content,
      delayMeanMs: units ? this._delaySum / units : 0,
      delayMaxMs: this._delayMax,
      arrivalJitterMs: this._arrival.stddev,
      arrivalMaxGapMs: this._arrival.max,
      displayJitterMs: this._display.stddev,
      displayMaxGapMs: this._display.max,
      intervalMs: interval < Infinity ? interval : undefined,
      targetDelayMs: this._target,
      merged: this._merged,
      partial: this._partial,
      invalid: this._invalid,
    };
  }

  /** The source's average interval per unit, Infinity before it is known. */
  private _interval(): number {
    return this._rateN > 0 ? this._rateT / this._rateN : Infinity;
  }

  /** Monotonic time: a reading that is not finite is counted and replaced, one going back is held. */
  private _time(nowMs: number): number {
    if (!finite(nowMs)) this._invalid++;
    else if (nowMs > this._now) this._now = nowMs;
    return this._now;
  }

  private _enqueue(unit: string, at: number): void {
    if (this._size === this._cap) {
      this._text[(this._head + this._size - 1) % this._cap] += unit;
      this._merged++;
      return;
    }
    const i = (this._head + this._size++) % this._cap;
    this._text[i] = unit;
    this._at[i] = at;
  }

  /**
   * Releases at `now` the unit due at `due`: the queue's head, else the word still arriving, else
   * whitespace left after the turn's end (no unit).
   */
  private _release(due: number, now: number): string {
    this._last = due;
    let unit: string;
    let at: number;
    if (this._size) {
      unit = this._text[this._head];
      at = this._at[this._head];
      this._text[this._head] = '';
      this._head = (this._head + 1) % this._cap;
      this._size--;
    } else if (this._content) {
      unit = this._part;
      at = this._partAt;
      this._part = '';
      this._content = false;
      this._split = true;
    } else {
      unit = this._part + this._high;
      this._part = this._high = '';
      return unit;
    }
    const delay = now - at;
    if (this._units++) {
      this._arrival.add(at - this._prevAt);
      this._display.add(now - this._prevShown);
    } else this._first = now;
    this._delaySum += delay;
    if (delay > this._delayMax) this._delayMax = delay;
    this._prevAt = at;
    this._prevShown = now;
    if (this._carry && !--this._carry) this._resetStats();
    return unit;
  }

  private _resetStats(): void {
    this._units = this._delaySum = this._delayMax = this._merged = this._partial = 0;
    this._arrival.reset();
    this._display.reset();
    this._first = NaN;
  }
}
