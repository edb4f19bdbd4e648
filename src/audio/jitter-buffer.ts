import { DelayEstimator, PRIOR_MS } from './delay-estimator';

export interface JitterBufferOptions {
  inputSampleRate: number;
  outputSampleRate: number;
  /** Interleaved channels of both input and output. Default 1. */
  channels?: number;
  /** Hard cap of queued audio, allocated once; what does not fit is dropped and counted. Default 60000. */
  maxBufferMs?: number;
  /** Bounds of the adaptive target delay. Defaults 0 and 2000. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /**
   * `live` keeps latency bounded by dropping excess delay; `generated` (TTS) never drops audio and
   * lets ahead-of-time audio queue; `auto` (default) infers which from the arrivals.
   */
  mode?: 'auto' | 'live' | 'generated';
}

export interface PushMeta {
  /** Sequence number: duplicates and late chunks are discarded and counted. */
  seq?: number;
  /** Media time of the chunk's first sample, ms; a gap means media was lost and is skipped. */
  mediaMs?: number;
}

/** W3C webrtc-stats names and meanings; samples are output frames (per channel). */
export interface JitterBufferStats {
  /** Media and concealed samples played since the first sample of each turn. */
  totalSamplesReceived: number;
  concealedSamples: number;
  silentConcealedSamples: number;
  concealmentEvents: number;
  insertedSamplesForDeceleration: number;
  removedSamplesForAcceleration: number;
  /** Sum over emitted samples of emit time - arrival time, seconds. */
  jitterBufferDelay: number;
  jitterBufferEmittedCount: number;
  /** Sum over emitted samples of the target delay, seconds. */
  jitterBufferTargetDelay: number;
  /** As jitterBufferTargetDelay, from the network alone (before minDelayMs/maxDelayMs). */
  jitterBufferMinimumDelay: number;
  /** Chunks discarded as late, out of order, or far from the expected position. */
  packetsDiscarded: number;
  /** Chunks discarded because their seq was already received. */
  packetsDuplicated: number;
  /** NaN/Infinity samples replaced by silence. */
  invalidSamples: number;
  /** Input frames dropped: by the hard cap, or with discarded and duplicate chunks. */
  discardedSamples: number;
  targetDelayMs: number;
  bufferedMs: number;
}

/**
 * Where the last pulled block sits in the media, to map playout to wall-clock time. A block's
 * media frames always come first: playback starts and resumes only at block boundaries.
 */
export interface Playout {
  /** Output frame index (frames pulled since construction) of the block's first frame. */
  frame: number;
  /** nowMs passed to that pull. */
  nowMs: number;
  /** Media time (ms) of the block's first frame; NaN when the block carried no media. */
  mediaMs: number;
  /** Frames of the block that carried media. */
  mediaFrames: number;
  /** First output frame of the current turn above -80 dBFS, and its time; -1 until then. */
  firstAudibleFrame: number;
  firstAudibleMs: number;
}

const IDLE = 0;
const WAIT = 1;
const PLAY = 2;
const HOLD = 3;
/** Fades at start, resume, underrun and barge-in; also the time-stretch crossfade (ms). */
const FADE_MS = 2.5;
/** Segment dropped or repeated by one time-stretch step (ms)... */
const STRETCH_MS = 10;
/** ...at most this share of a segment per segment played (10 % faster or slower)... */
const MAX_STRETCH = 0.1;
/**
 * ...or this share, at any signal level, while less than half the target is queued (a stall
 * draining the queue, or a cold start short of its cushion): media at 60 % speed for a moment is
 * heard as slowed speech, a gap as a dropout.
 */
const DEEP_STRETCH = 0.67;
/** A region is quiet enough to stretch below this share of the running signal power... */
const QUIET = 0.5;
/** ...or at any level once a stretch has waited this long (ms). */
const MAX_WAIT_MS = 40;
/** Accelerate when the playout delay and the queue exceed the target by this much (ms, plus 10 %)... */
const ACCEL_BAND = 20;
/** ...and expand when it is this far below (ms, plus 5 %). */
const EXPAND_BAND = 2;
/**
 * Playback starts once the playout delay reaches this share of the target (at most of the prior,
 * growing the rest by expansion) and this share of that is queued, so that a stall under way is
 * waited out rather than played into.
 */
const START_SHARE = 0.85;
const QUEUED_SHARE = 0.7;
/**
 * A paced source gets ahead of its first chunk only by that chunk's own lateness; beyond this the
 * source runs faster than real time and builds its own cushion, so each ms ahead earns CREDIT ms
 * off the start level: synthesised speech starts at once.
 */
const JITTER_ALLOWANCE_MS = 20;
const CREDIT = 16;
/**
 * A source seen delivering media at 1.5 x real time from its first chunks (DelayEstimator._fast)
 * starts once the playout is this far behind its fastest chunk: one network jitter's worth, the
 * source builds the rest. A calm path (DelayEstimator._calm) starts at once.
 */
const FAST_START_MS = 25;
/** -80 dBFS: TTS often opens with digital silence, which is not the first audible sample. */
const AUDIBLE = 1e-4;
/** Chunks tracked for arrival times and media positions; beyond, chunks merge into the last. */
const RECORDS = 256;
const SEQ_WINDOW = 32;
const SEQ_FAR = 1000;

const finite = Number.isFinite as (v: unknown) => v is number;

/**
 * Adaptive jitter buffer driven by explicit time: `push` chunks as they arrive, `pull` one block of
 * output per render quantum. Allocation-free after construction (it runs inside an
 * AudioWorkletProcessor) and never throws on bad input.
 */
export class JitterBuffer {
  readonly playout: Playout = {
    frame: 0,
    nowMs: 0,
    mediaMs: NaN,
    mediaFrames: 0,
    firstAudibleFrame: -1,
    firstAudibleMs: -1,
  };
  private declare readonly _ch: number;
  private declare readonly _ri: number;
  private declare readonly _ro: number;
  private declare readonly _step: number;
  /** Frames queued at most (the hard cap), and the ring's frames. */
  private declare readonly _max: number;
  private declare readonly _cap: number;
  private declare readonly _buf: Float32Array;
  private declare readonly _seg: number;
  private declare readonly _fade: number;
  private declare readonly _minDelay: number;
  private declare readonly _maxDelay: number;
  private declare readonly _mode: JitterBufferOptions['mode'];
  private readonly _est = new DelayEstimator();
  /** Per chunk: first input frame, arrival time, media time. */
  private readonly _recF = new Float64Array(RECORDS);
  private readonly _recT = new Float64Array(RECORDS);
  private readonly _recM = new Float64Array(RECORDS);
  private _recW = 0;
  private _recR = 0;
  /** Frames written; samples written of the partial frame; whether that frame is being dropped (set by its first sample). */
  private _w = 0;
  private _wk = 0;
  private declare _skip: boolean;
  /** Low byte of a PCM16 sample split across pushes, -1 when none. */
  private _odd = -1;
  /** Read position, and where the playing turn began (set as it starts waiting), input frames. */
  private _r = 0;
  private declare _base: number;
  /** Frame where the ended turn's media stops, -1 while its stream is open. */
  private _endAt = -1;
  private declare _open?: boolean;
  private _state = IDLE;
  private declare _fading?: boolean;
  private declare _hiding?: boolean;
  private _now = 0;
  // Push side of the turn, set as it opens (the seqs seen below _seq, with _seq; the network's target by its first chunk).
  private declare _seq: number;
  private declare _seqMask: number;
  private declare _far: number;
  /** Media time the next chunk should start at, NaN until the turn's first is queued. */
  private declare _nextMs: number;
  private declare _netTarget: number;
  private _target = 0;
  // Pull side; the fade-in is set as playback starts.
  private declare _fadeIn: number;
  private _since = 0;
  private _wait = 0;
  private _power = 0;
  private _outFrame = 0;
  // Counters.
  private _concealed = 0;
  private _events = 0;
  private _inserted = 0;
  private _removed = 0;
  private _delay = 0;
  private _emitted = 0;
  private _targetSum = 0;
  private _minSum = 0;
  private _discarded = 0;
  private _duplicated = 0;
  private _invalid = 0;
  private _dropped = 0;

  constructor(o: JitterBufferOptions) {
    const num = (v: unknown, d: number, lo: number, hi: number): number => (finite(v) && v >= lo && v <= hi ? v : d);
    this._ri = num(o.inputSampleRate, 24000, 1000, 384000);
    this._ro = num(o.outputSampleRate, 48000, 1000, 384000);
    this._ch = Math.floor(num(o.channels, 1, 1, 32));
    this._step = this._ri / this._ro;
    this._seg = Math.round((STRETCH_MS * this._ri) / 1000);
    this._fade = Math.round((FADE_MS * this._ro) / 1000);
    this._max = Math.ceil((num(o.maxBufferMs, 60000, 100, 600000) * this._ri) / 1000);
    // The ring also keeps played frames behind the read position, for expansion.
    this._cap = this._max + this._seg + 2;
    this._buf = new Float32Array(this._cap * this._ch);
    this._minDelay = num(o.minDelayMs, 0, 0, 10000);
    this._maxDelay = Math.max(this._minDelay, num(o.maxDelayMs, 2000, 0, 10000));
    this._mode = o.mode;
  }

  /**
   * Queues one chunk that arrived at nowMs: Float32 samples in [-1, 1], Int16 samples, or PCM16
   * little-endian bytes (a byte or frame split across pushes is carried over). The first push after
   * end() or flush() starts a new turn on the same learned path.
   */
  push(samples: Float32Array | Int16Array | Uint8Array | ArrayBuffer, nowMs: number, meta?: PushMeta): void {
    const data = samples instanceof ArrayBuffer ? new Uint8Array(samples) : samples;
    const n = ArrayBuffer.isView(data) ? data.length : 0;
    if (!(n > 0)) return;
    const bytes = data instanceof Uint8Array;
    const now = finite(nowMs) ? nowMs : this._now;
    this._now = now;
    if (!this._open) {
      this._open = true;
      this._seq = NaN;
      this._far = 0;
      this._nextMs = NaN;
      // Media time restarts, so the reference does; what was learned about the path stays.
      this._est._bucket = NaN;
    }
    const s = meta?.seq;
    const mm = meta?.mediaMs;
    const g = finite(s) && this._seq === this._seq ? s - this._seq : 1;
    // NaN for the turn's first chunk: no gap (it compares false).
    const gap = finite(mm) ? mm - this._nextMs : 0;
    const capMs = (this._max * 1000) / this._ri;
    const old = (g <= 0 && g > -SEQ_WINDOW) || (gap < -2 && gap >= -capMs);
    if (old || ((g > SEQ_FAR || g <= -SEQ_WINDOW || gap > capMs || gap < -capMs) && ++this._far < 3)) {
      // Already queued or played (duplicate, late), or far off: an outlier is dropped, a jump
      // that lasts three chunks is followed.
      if (old && g <= 0 && (this._seqMask >>> -g) & 1) this._duplicated++;
      else this._discarded++;
      this._dropped += (bytes ? n / 2 : n) / this._ch;
      return;
    }
    this._far = 0;
    if (finite(s)) {
      this._seqMask = this._seq === this._seq && g > 0 && g < SEQ_WINDOW ? (this._seqMask << g) | 1 : 1;
      this._seq = s;
    }
    const media = finite(mm) ? mm : this._nextMs || 0;
    const w0 = this._w;
    const d0 = this._dropped;
    const lim = Math.floor(this._r) + this._max;
    if (bytes) {
      for (let k = 0; k < n; k++) {
        if (this._odd < 0) this._odd = data[k];
        else {
          this._put((((data[k] << 24) >> 16) | this._odd) / 32768, lim);
          this._odd = -1;
        }
      }
    } else {
      const scale = data instanceof Int16Array ? 1 / 32768 : 1;
      const v = data as Float32Array;
      for (let k = 0; k < n; k++) this._put(v[k] * scale, lim);
    }
    // Frames the chunk carried, whether stored or dropped by the cap: the media timeline moves on.
    const frames = this._w - w0 + this._dropped - d0;
    if (!frames) return;
    if (this._w > w0 && this._recW - this._recR < RECORDS) {
      const i = this._recW++ % RECORDS;
      this._recF[i] = w0;
      this._recT[i] = now;
      this._recM[i] = media;
    }
    this._nextMs = media + (frames * 1000) / this._ri;
    this._est._add(now, media);
    this._netTarget = this._est._target();
    this._target = Math.min(this._maxDelay, Math.max(this._minDelay, this._netTarget));
  }

  /** Fills one block of interleaved output (media, or silence when there is none) for time nowMs. */
  pull(out: Float32Array, nowMs: number): void {
    const frames = Math.floor(out.length / this._ch);
    const p = this.playout;
    const now = finite(nowMs) ? nowMs : this._now;
    this._now = now;
    out.fill(0);
    p.frame = this._outFrame;
    p.nowMs = now;
    p.mediaMs = NaN;
    p.mediaFrames = 0;
    this._outFrame += frames;
    const ended = this._endAt >= 0;
    const lim = ended ? this._endAt : this._w;
    const queued = lim - this._r;
    const need = frames * this._step;
    if (this._state === IDLE && queued >= 1) {
      this._state = WAIT;
      this._base = this._r;
      p.firstAudibleFrame = p.firstAudibleMs = -1;
    }
    if (
      (this._state === WAIT && (ended || (queued >= need && this._ready(queued)))) ||
      (this._state === HOLD && (ended || (queued >= need && this._lead() >= this._target / 2)))
    ) {
      this._state = PLAY;
      this._fadeIn = 0;
    }
    let m = 0;
    if (this._state === PLAY) {
      // Frames whose samples and interpolation partners are queued; at the end, the last one is held.
      const avail = ended ? Math.ceil(queued / this._step) : queued >= 1 ? Math.floor((queued - 1) / this._step) + 1 : 0;
      m = Math.min(frames, avail);
      // What is left before an underrun fades out (no click), as does the barge-in tail.
      const dry = !ended && avail <= frames;
      const delta = ended || dry ? 0 : this._decide(frames, queued);
      this._emit(out, m, now, delta, dry || this._fading ? avail : Infinity);
      if (ended && m < frames) {
        this._state = IDLE;
        this._r = lim;
        this._endAt = -1;
        this._fading = false;
      } else if (dry) this._state = HOLD;
    }
    const hidden = this._state === HOLD ? frames - m : 0;
    if (hidden) {
      // W3C: an event is a concealed sample following a non-concealed one.
      if (m || !this._hiding) this._events++;
      this._concealed += hidden;
    }
    this._hiding = hidden > 0;
  }

  /** Marks the end of the turn's stream: what is queued plays out, and the tail is no underrun. */
  end(): void {
    if (!this._open) return;
    this._open = false;
    this._endAt = this._w;
    this._wk = 0;
    this._odd = -1;
  }

  /** Barge-in: fades out within 2.5 ms and discards everything queued after; returns its media ms. */
  flush(): number {
    const lim = this._endAt >= 0 ? this._endAt : this._w;
    const playing = this._state === PLAY;
    const keep = Math.min(lim, playing ? Math.ceil(this._r + (this._fade - 1) * this._step) + 1 : Math.ceil(this._r));
    // keep <= lim <= _w: an ended turn's media stops at or before the write position.
    const gone = this._w - keep;
    this._w = keep;
    while (this._recW > this._recR + 1 && this._recF[(this._recW - 1) % RECORDS] >= keep) this._recW--;
    // The stream ends too (a closed one has no partial frame or byte); where its media stops is set below.
    this.end();
    if (playing && keep > this._r) {
      this._endAt = keep;
      this._fading = true;
    } else {
      this._endAt = -1;
      this._r = keep;
      this._state = IDLE;
    }
    return (gone * 1000) / this._ri;
  }

  stats(): JitterBufferStats {
    return {
      // Every sample played is emitted or concealed.
      totalSamplesReceived: this._emitted + this._concealed,
      concealedSamples: this._concealed,
      silentConcealedSamples: this._concealed,
      concealmentEvents: this._events,
      insertedSamplesForDeceleration: this._inserted,
      removedSamplesForAcceleration: this._removed,
      jitterBufferDelay: this._delay,
      jitterBufferEmittedCount: this._emitted,
      jitterBufferTargetDelay: this._targetSum,
      jitterBufferMinimumDelay: this._minSum,
      packetsDiscarded: this._discarded,
      packetsDuplicated: this._duplicated,
      invalidSamples: this._invalid,
      discardedSamples: this._dropped,
      targetDelayMs: this._target,
      bufferedMs: (Math.max(0, (this._endAt >= 0 ? this._endAt : this._w) - this._r) * 1000) / this._ri,
    };
  }

  /** Writes one sample (NaN/Inf replaced, clamped); whole frames past the hard cap are dropped. */
  private _put(v: number, lim: number): void {
    if (!this._wk) this._skip = this._w >= lim;
    if (!this._skip) {
      if (v - v !== 0) {
        v = 0;
        this._invalid++;
      }
      this._buf[(this._w % this._cap) * this._ch + this._wk] = Math.min(1, Math.max(-1, v));
    }
    if (++this._wk === this._ch) {
      this._wk = 0;
      if (this._skip) this._dropped++;
      else this._w++;
    }
  }

  /** Slot of the record holding input frame r (which only moves forward). */
  private _rec(r: number): number {
    while (this._recR + 1 < this._recW && this._recF[(this._recR + 1) % RECORDS] <= r) this._recR++;
    return this._recR % RECORDS;
  }

  /** Media time (ms) at the read position (there is a record: frames were queued). */
  private _mediaAt(): number {
    const r = this._r;
    const i = this._rec(r);
    return this._recM[i] + ((r - this._recF[i]) * 1000) / this._ri;
  }

  /** Playout delay over the fastest recent arrival (ms): what protects against late chunks. */
  private _lead(): number {
    return this._now - this._mediaAt() - this._est._ref;
  }

  private _ready(queued: number): boolean {
    const prior = START_SHARE * Math.min(this._target, PRIOR_MS) - CREDIT * Math.max(0, this._est._ahead - JITTER_ALLOWANCE_MS);
    const level = this._est._calm ? 0 : this._est._fast ? Math.min(FAST_START_MS, prior) : prior;
    return this._lead() >= level && (queued * 1000) / this._ri >= level * QUEUED_SHARE;
  }

  /**
   * Time-stretch decision for this block: input frames to skip (> 0), repeat (< 0), or 0. Live
   * streams shrink excess delay back to the target; synthesised ones only grow toward it.
   */
  private _decide(frames: number, queued: number): number {
    const seg = this._seg;
    const t = this._target;
    // What protects the playout: its delay over the fastest recent arrival, or less while a stall
    // drains the queue.
    const low = Math.min(this._lead(), (queued * 1000) / this._ri);
    const deep = low < t / 2;
    // Any other mode is auto.
    const live = this._mode === 'live' || (this._mode !== 'generated' && !this._est._generated);
    let delta = 0;
    this._since += frames;
    if (low > t + ACCEL_BAND + 0.1 * t && live && queued > seg + (frames + 2) * this._step) delta = seg;
    else if (low < t - EXPAND_BAND - 0.05 * t && this._r - seg >= this._base) delta = -seg;
    if (!delta || this._since * this._step * (deep ? DEEP_STRETCH : MAX_STRETCH) < seg) {
      this._wait = 0;
      return 0;
    }
    // Stretch in quiet audio: wait for a region below QUIET x the running power, up to MAX_WAIT_MS.
    const from = Math.floor(this._r) - (delta < 0 ? seg : 0);
    const len = (seg + Math.ceil(frames * this._step)) * this._ch;
    let e = 0;
    for (let i = 0; i < len; i++) {
      const v = this._buf[(from * this._ch + i) % this._buf.length];
      e += v * v;
    }
    if (!deep && e > QUIET * this._power * len && this._wait * 1000 < MAX_WAIT_MS * this._ro) {
      this._wait += frames;
      return 0;
    }
    this._wait = 0;
    this._since = 0;
    if (delta > 0) this._removed += seg / this._step;
    else this._inserted += seg / this._step;
    return delta;
  }

  /**
   * Plays m media frames into out, cross-fading to r + delta over the first 2.5 ms (a stretch plays
   * a whole block), and fading out over the last frames before `tail` (frames left to play, this
   * block and the next).
   */
  private _emit(out: Float32Array, m: number, now: number, delta: number, tail: number): void {
    const xf = delta ? Math.min(m, this._fade) : 0;
    const ch = this._ch;
    const cap = this._cap;
    const buf = this._buf;
    const fade = this._fade;
    const p = this.playout;
    const msPerFrame = 1000 / this._ro;
    const last = (this._endAt >= 0 ? this._endAt : this._w) - 1;
    let r = this._r;
    let energy = 0;
    if (m) {
      p.mediaMs = this._mediaAt();
      p.mediaFrames = m;
    }
    for (let k = 0; k < m; k++) {
      let g = this._fadeIn < fade ? ++this._fadeIn / fade : 1;
      if (tail - k <= fade) g *= (tail - k) / (Math.min(tail, fade) + 1);
      const i0 = Math.floor(r);
      const fr = r - i0;
      const a = (i0 % cap) * ch;
      const b = (Math.min(i0 + 1, last) % cap) * ch;
      const u = k < xf ? (k + 1) / (xf + 1) : 0;
      const a2 = ((i0 + delta) % cap) * ch;
      const b2 = ((i0 + delta + 1) % cap) * ch;
      for (let c = 0; c < ch; c++) {
        let v = buf[a + c] + (buf[b + c] - buf[a + c]) * fr;
        // Cross-fade into the audio one segment ahead (accelerate) or back (expand).
        if (u) v += (buf[a2 + c] + (buf[b2 + c] - buf[a2 + c]) * fr - v) * u;
        energy += v * v;
        v *= g;
        out[k * ch + c] = v;
        if (p.firstAudibleFrame < 0 && Math.abs(v) > AUDIBLE) {
          p.firstAudibleFrame = p.frame + k;
          p.firstAudibleMs = now + k * msPerFrame;
        }
      }
      // jitterBufferDelay: each sample's emit time minus the arrival of the chunk it came from.
      this._delay += (now + k * msPerFrame - this._recT[this._rec(r)]) / 1000;
      r += this._step;
      if (k + 1 === xf) r += delta;
    }
    this._r = r;
    this._emitted += m;
    this._targetSum += (m * this._target) / 1000;
    this._minSum += (m * this._netTarget) / 1000;
    if (m) this._power += (energy / (m * ch) - this._power) * 0.05;
  }
}
