/**
 * Forgetting histogram as in NetEq: every add decays all buckets by f and gives 1 - f to the hit
 * bucket; f ramps up as 1 - 2/(n + 1) to `forget`, so the first observations count fully.
 */
export class Histogram {
  private declare readonly _p: Float64Array;
  private declare readonly _width: number;
  private declare readonly _forget: number;
  /** Observations so far. */
  _n = 0;

  constructor(buckets: number, width: number, forget: number) {
    this._p = new Float64Array(buckets);
    this._width = width;
    this._forget = forget;
  }

  _add(v: number): void {
    const p = this._p;
    const f = Math.min(this._forget, 1 - 2 / (++this._n + 1));
    for (let i = 0; i < p.length; i++) p[i] *= f;
    p[Math.min(p.length - 1, Math.max(0, Math.floor(v / this._width)))] += 1 - f;
  }

  /** Upper edge of the bucket holding quantile q, 0 while empty. */
  _quantile(q: number): number {
    const p = this._p;
    let s = 0;
    let i = 0;
    if (!this._n) return 0;
    while (i < p.length - 1 && (s += p[i]) < q) i++;
    return (i + 1) * this._width;
  }
}

const BUCKET_MS = 250;
/** Buckets in the reference window (2 s, as NetEq's packet arrival history); a power of two, as bucket & MASK is its slot. */
const WINDOW = 8;
const MASK = WINDOW - 1;
/** Peaks are the largest relative delay of each interval (NetEq: 500 ms). */
const INTERVAL_MS = 500;
/**
 * Paths with a wide jitter body (Wi-Fi, cellular: link-layer and TCP retransmissions) also stall
 * now and then, for far longer than their typical jitter: expect peaks this many times the median.
 */
const TAIL_PER_BODY = 40;
/**
 * The rule is for stalls not yet seen, so it is bounded: a wide body of even jitter (live audio
 * jittered by tens of ms, no stalls) would otherwise ask for seconds. At most TAIL_MAX_MS, and once
 * TAIL_EVIDENCE intervals have shown the peaks, at most TAIL_PER_PEAK times their 95th percentile.
 */
const TAIL_MAX_MS = 300;
const TAIL_EVIDENCE = 16;
const TAIL_PER_PEAK = 3;
/** Until this many chunks have shown the path's jitter, assume one that stalls this long. */
export const PRIOR_MS = 150;
const PRIOR_CHUNKS = 40;
/**
 * A calm path (a wired LAN) carries a turn's first two chunks within CALM_MS of the same transit
 * time: it does not stall, needs no prior, and playback starts at once. Wi-Fi's gamma jitter matches
 * that about one time in seven, so the mark goes once the turn's transit spread passes CALM_BREAK_MS
 * (a LAN stays within it for minutes): the prior returns, and the cushion is built while playing.
 */
const CALM_MS = 1.2;
const CALM_BREAK_MS = 5;
/** The transit floor fell this far within a turn: the source runs ahead of real time. */
const AHEAD_MS = 100;
/**
 * Synthesised speech pauses between sentences for about as long as the synthesis of the next one
 * takes to start (its time to first audio, a few hundred ms), and a source near real time has not
 * built that cushion by itself: keep at least this much queued. Its audio is never dropped, so the
 * cushion costs no dropped speech, and the stretch builds it while speech plays.
 */
const PAUSE_MS = 300;
/**
 * A paced source delivers about one chunk per chunk duration; a synthesiser ahead of real time
 * delivers media faster from its first chunks. Media (before the latest chunk) arrived at FAST_RATE x
 * the wall time since the turn's first chunk, within its first EARLY_CHUNKS, marks the turn's
 * source fast. Over one chunk interval a late first chunk passes for that, so there it takes
 * FAST_SLACK_MS more: a second chunk sent before the first arrived (held back behind it). A paced
 * source gets there only if its first chunk was late by over a chunk interval; a burst after a later
 * stall only catches up with real time.
 */
const FAST_RATE = 1.5;
const FAST_SLACK_MS = 17;
const EARLY_CHUNKS = 8;

/**
 * Arrival model of one stream, learned across its turns. Each chunk's transit (arrival - media time)
 * is compared with the fastest chunk of the last 2 s (the reference); the excess is its relative
 * delay. The target covers the 95th percentile of per-interval peak delays, the peak of the open
 * interval (so it reacts to a stall at once), and a tail inferred from the jitter body: the delay
 * against the fastest chunk of the last 250-500 ms (a level shift does not inflate it), leaving out
 * chunks held back behind a late one (they arrive in the same millisecond).
 */
export class DelayEstimator {
  /** Transit reference of the current turn: the smallest arrival - media time of the last 2 s. */
  declare _ref: number;
  /** How far (ms) the fastest recent chunk is ahead of the turn's first one. */
  declare _ahead: number;
  /** The source ran ahead of real time in this turn: synthesised speech, whose audio must not be dropped. */
  declare _generated: boolean;
  /** From its first chunks' arrival rate, this turn's source is ahead of real time. */
  declare _fast: boolean;
  /** The turn's first chunks came over a calm path (see CALM_MS). */
  declare _calm: boolean;
  private readonly _mins = new Float64Array(WINDOW);
  /** The latest arrival's 250 ms bucket; NaN restarts the reference (a new turn restarts media time). */
  _bucket = NaN;
  private _lastMs = NaN;
  /** Chunks so far. */
  private _n = 0;
  // Set by the first chunk (declared: no initial value to emit), as the reference then restarts.
  private declare _ivEnd: number;
  private declare _ivMax: number;
  /** Turn's first transit, and its slowest. */
  private declare _floor: number;
  private declare _hi: number;
  /** Turn's first arrival and media time, and chunks since (counted up to EARLY_CHUNKS). */
  private declare _t0: number;
  private declare _m0: number;
  private declare _early: number;
  private readonly _peaks = new Histogram(200, 10, 0.983);
  private readonly _body = new Histogram(200, 0.5, 0.99);

  /** Records a chunk whose first sample (media time mediaMs) arrived at nowMs. */
  _add(nowMs: number, mediaMs: number): void {
    const m = this._mins;
    const len = WINDOW;
    const x = nowMs - mediaMs;
    const b = Math.floor(nowMs / BUCKET_MS);
    const fresh = this._bucket !== this._bucket;
    if (!(b - this._bucket < len)) {
      // New turn, or silence longer than the whole window: nothing recent to compare with.
      m.fill(Infinity);
      this._bucket = b;
      this._ivEnd = nowMs + INTERVAL_MS;
      this._ivMax = 0;
    }
    if (fresh) {
      this._floor = this._hi = x;
      this._generated = this._fast = this._calm = false;
      this._t0 = nowMs;
      this._m0 = mediaMs;
      this._early = 0;
    } else if (this._early < EARLY_CHUNKS) {
      // Over one chunk interval only a chunk held back behind the first counts (FAST_SLACK_MS).
      if (mediaMs - this._m0 >= FAST_RATE * (nowMs - this._t0) + (this._early++ ? 0 : FAST_SLACK_MS)) this._fast = true;
    }
    while (this._bucket < b) m[++this._bucket & MASK] = Infinity;
    const i = this._bucket & MASK;
    const prev = (i - 1) & MASK;
    if (x < m[i]) m[i] = x;
    let r = Infinity;
    for (let k = 0; k < len; k++) r = Math.min(r, m[k]);
    this._ref = r;
    this._ahead = this._floor - r;
    if (this._ahead > AHEAD_MS) this._generated = true;
    // The turn's transit spread over the fastest recent chunk marks a calm path, or no longer one.
    this._hi = Math.max(this._hi, x);
    const spread = this._hi - r;
    if (this._early === 1) this._calm = spread <= CALM_MS;
    if (spread > CALM_BREAK_MS) this._calm = false;
    const d = x - r;
    this._n++;
    if (!(nowMs - this._lastMs <= 1)) this._body._add(x - Math.min(m[i], m[prev]));
    this._lastMs = nowMs;
    if (nowMs >= this._ivEnd) {
      this._peaks._add(this._ivMax);
      this._ivMax = d;
      this._ivEnd = nowMs + INTERVAL_MS;
    } else if (d > this._ivMax) this._ivMax = d;
  }

  /** Delay (ms) the playout should keep over the reference so that arrivals are rarely late. */
  _target(): number {
    const peaks = this._peaks._quantile(0.95);
    const seen = this._peaks._n >= TAIL_EVIDENCE ? TAIL_PER_PEAK * peaks : TAIL_MAX_MS;
    const floor = this._generated ? PAUSE_MS : this._n < PRIOR_CHUNKS && !this._calm ? PRIOR_MS : 0;
    return Math.max(peaks, this._ivMax, Math.min(TAIL_MAX_MS, seen, TAIL_PER_BODY * this._body._quantile(0.5)), floor);
  }
}
