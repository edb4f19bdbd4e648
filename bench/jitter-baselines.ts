import { Histogram } from '../src/audio/delay-estimator';
import type { Playout, PushMeta } from '../src/audio/jitter-buffer';
import type { Player } from './jitter-score';

/**
 * Baselines for the benchmark, modelled on media counts (no samples): a playout policy decides,
 * per block, whether to play and at what speed; everything else is shared.
 */
abstract class CountingPlayer implements Player {
  readonly playout: Playout = {
    frame: 0,
    nowMs: 0,
    mediaMs: NaN,
    mediaFrames: 0,
    firstAudibleFrame: -1,
    firstAudibleMs: -1,
  };
  /** Queued input frames and the media time at the read position. */
  protected queued = 0;
  private mediaMs = 0;
  private playing = false;
  private started = false;
  private ended = false;
  private stretched = 0;

  constructor(
    protected readonly ri: number,
    private readonly ro: number,
  ) {}

  push(samples: Float32Array, nowMs: number, meta: PushMeta): void {
    this.queued += samples.length;
    this.arrived(nowMs, meta.mediaMs ?? 0);
  }

  end(): void {
    this.ended = true;
  }

  pull(out: Float32Array, nowMs: number): void {
    const p = this.playout;
    const frames = out.length;
    p.frame += frames;
    p.nowMs = nowMs;
    p.mediaMs = NaN;
    p.mediaFrames = 0;
    const queuedMs = (this.queued * 1000) / this.ri;
    if (!this.playing && this.queued > 0 && (this.ended || queuedMs >= this.startMs(nowMs, this.started))) {
      this.playing = true;
      if (!this.started) p.firstAudibleMs = nowMs;
      this.started = true;
    }
    if (!this.playing) return;
    const speed = this.speed(nowMs, queuedMs);
    const per = (speed * this.ri) / this.ro;
    const m = Math.min(frames, Math.floor(this.queued / per + 1e-9));
    const used = m < frames && this.ended ? this.queued : m * per;
    p.mediaMs = this.mediaMs;
    p.mediaFrames = m;
    this.queued -= used;
    this.mediaMs += (used * 1000) / this.ri;
    this.stretched += Math.abs(m - (used * this.ro) / this.ri);
    if (m < frames) this.playing = false;
  }

  stats(): { insertedSamplesForDeceleration: number; removedSamplesForAcceleration: number } {
    return { insertedSamplesForDeceleration: this.stretched, removedSamplesForAcceleration: 0 };
  }

  protected arrived(_nowMs: number, _mediaMs: number): void {}
  /** Buffered media (ms) needed to start, or to resume after an underrun. */
  protected abstract startMs(nowMs: number, resume: boolean): number;
  /** Playback speed for this block (1 = real time). */
  protected speed(_nowMs: number, _queuedMs: number): number {
    return 1;
  }
}

/** Waits for a fixed amount of media before playing, and again after every underrun. */
export class FixedPrebuffer extends CountingPlayer {
  constructor(
    ri: number,
    ro: number,
    private readonly prebufferMs: number,
  ) {
    super(ri, ro);
  }

  protected startMs(): number {
    return this.prebufferMs;
  }
}

/**
 * NetEq-style: relative delay against the fastest chunk of the last 2 s, the largest per 500 ms
 * into a histogram of 20 ms buckets with forget factor 0.983, target = its 95th percentile
 * (80 ms before any data); start/resume at 50 % of target; a filtered buffer level drives
 * accelerate (≥ high, fast above 4x high) and preemptive expand (< low).
 */
export class NetEqStyle extends CountingPlayer {
  private readonly hist = new Histogram(100, 20, 0.983);
  private readonly window: Array<[number, number]> = [];
  private added = false;
  private ivEnd = 0;
  private ivMax = 0;
  private level = 0;
  private lastMs = NaN;

  protected override arrived(nowMs: number, mediaMs: number): void {
    const x = nowMs - mediaMs;
    const w = this.window;
    w.push([nowMs, x]);
    while (w[0][0] < nowMs - 2000) w.shift();
    const d = x - Math.min(...w.map((e) => e[1]));
    if (nowMs >= this.ivEnd) {
      if (this.ivEnd) {
        this.hist._add(this.ivMax);
        this.added = true;
      }
      this.ivEnd = nowMs + 500;
      this.ivMax = d;
    } else this.ivMax = Math.max(this.ivMax, d);
  }

  private target(): number {
    return this.added ? this.hist._quantile(0.95) : 80;
  }

  protected startMs(): number {
    return this.target() / 2;
  }

  protected override speed(nowMs: number, queuedMs: number): number {
    const t = this.target();
    const a = t <= 20 ? 251 : t <= 60 ? 252 : t <= 140 ? 253 : 254;
    const ticks = Number.isNaN(this.lastMs) ? 1 : (nowMs - this.lastMs) / 10;
    this.lastMs = nowMs;
    const k = (a / 256) ** ticks;
    this.level = k * this.level + (1 - k) * queuedMs;
    const low = Math.max(0.75 * t, t - 85);
    const high = Math.max(t, low + 20);
    if (this.level >= 4 * high) return 1.3;
    if (this.level >= high) return 1.1;
    return this.level < low ? 0.9 : 1;
  }
}
