import { JitterBuffer, type JitterBufferOptions } from './jitter-buffer';
import { CLOSE, END, ENDED, F32, FLUSH, I16, PLAYING, REPLY, STATS, UNDERRUN, type Command, type Report, type Samples } from './protocol';
import type { RingReader } from './ring';

/**
 * The player's processor without Web Audio: applies commands in order, each once the render clock
 * reaches its time, pulls one block per render quantum, and reports playout events. The render
 * clock is explicit, so an OfflineAudioContext (or a test) can script arrivals on it. Fed by a ring,
 * a quantum allocates nothing; reports (events, stats) allocate their message.
 */
export class Engine {
  readonly _jb: JitterBuffer;
  /** False once closed: the processor stops. */
  _alive = true;
  private readonly _queue: Command[] = [];
  private readonly _meta = { seq: NaN, mediaMs: NaN };
  private readonly _msPerFrame: number;
  private readonly _ch: number;
  /** Player turns: a push after end() or flush() starts the next, as in the main thread. */
  private _turn = 0;
  private _open = false;
  private _heard = -1;
  private _sounding = false;
  private _ending = false;

  constructor(
    options: JitterBufferOptions,
    private readonly _report: (...report: Report) => void,
    private readonly _ring?: RingReader,
  ) {
    this._jb = new JitterBuffer(options);
    this._msPerFrame = 1000 / options.outputSampleRate;
    this._ch = options.channels ?? 1;
  }

  /** A message from the main thread: a command (held until its time) or a request. */
  _receive(m: Command): void {
    if (m[0] === STATS) this._report(REPLY, NaN, this._turn, this._jb.stats());
    else if (m[0] === CLOSE) this._alive = false;
    else this._queue.push(m);
  }

  /** Renders one block of interleaved output at render-clock time `now` (ms). */
  _render(out: Float32Array, now: number): void {
    const ring = this._ring;
    const queue = this._queue;
    if (ring) {
      while (!(ring._peek() > now)) {
        ring._read();
        const op = ring._op;
        this._apply(op, ring._at, ring._seq, ring._mediaMs, op === F32 ? ring._f32 : op === I16 ? ring._i16 : ring._u8);
      }
    }
    while (queue.length && !(queue[0][1] > now)) {
      const [op, at, seq, mediaMs, samples] = queue.shift()!;
      this._apply(op, at, seq, mediaMs, samples);
    }
    this._jb.pull(out, now);
    this._observe(out.length / this._ch, now);
  }

  private _apply(op: number, at: number, seq: number, mediaMs: number, samples?: Samples): void {
    const jb = this._jb;
    if (op === END || op === FLUSH) {
      if (op === END) jb.end();
      else jb.flush();
      this._open = false;
      this._ending = true;
    } else if (samples) {
      if (!this._open) {
        this._open = true;
        this._turn++;
      }
      this._meta.seq = seq;
      this._meta.mediaMs = mediaMs;
      jb.push(samples, at, this._meta);
    }
  }

  /** Reports from the block just pulled: first audible sample, underrun, end of playout. */
  private _observe(frames: number, now: number): void {
    const p = this._jb.playout;
    if (p.firstAudibleFrame > this._heard) {
      this._heard = p.firstAudibleFrame;
      this._report(PLAYING, p.firstAudibleMs, this._turn);
    }
    if (p.mediaFrames) this._sounding = true;
    if (p.mediaFrames < frames && (this._sounding || this._ending)) {
      // Media stopped within this block: the turn's tail played out (or was flushed), or it ran dry.
      const at = now + p.mediaFrames * this._msPerFrame;
      if (this._ending) this._report(ENDED, at, this._turn, this._jb.stats());
      else this._report(UNDERRUN, at, this._turn);
      this._sounding = this._ending = false;
    }
  }
}
