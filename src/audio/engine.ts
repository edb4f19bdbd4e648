import { JitterBuffer, type JitterBufferOptions, type PushMeta } from './jitter-buffer';
import { CLOSE, END, ENDED, F32, FLUSH, I16, PLAYING, REPLY, STATS, UNDERRUN, type Batch, type Command, type Report, type Samples } from './protocol';
import type { RingReader } from './ring';

/**
 * The player's processor without Web Audio: applies commands in order, each once the render clock
 * reaches its time, pulls one block per render quantum, and reports playout events. The render
 * clock is explicit, so an OfflineAudioContext (or a test) can script arrivals on it. Fed by a ring,
 * a quantum allocates nothing; reports (events, stats) allocate their message.
 */
export class Engine {
  declare readonly _jb: JitterBuffer;
  /** False once closed: the processor stops. */
  _alive = true;
  private readonly _queue: Command[] = [];
  private readonly _meta: PushMeta = {};
  private declare readonly _msPerFrame: number;
  private declare readonly _ch: number;
  private declare readonly _report: (...report: Report) => void;
  private declare readonly _ring?: RingReader;
  /** Player turns: a push after end() or flush() starts the next, as in the main thread. */
  private _turn = 0;
  private declare _open?: boolean;
  private _heard = -1;
  private declare _sounding?: boolean;
  private declare _ending?: boolean;

  constructor(options: JitterBufferOptions, report: (...report: Report) => void, ring?: RingReader) {
    this._jb = new JitterBuffer(options);
    this._ch = options.channels ?? 1;
    this._msPerFrame = 1000 / options.outputSampleRate;
    this._ring = ring;
    this._report = report;
  }

  /** A message from the main thread: commands (each held until its time) and requests. */
  _receive(batch: Batch): void {
    for (const m of batch) {
      const op = m[0];
      if (op === STATS) this._report(REPLY, NaN, this._turn, this._jb.stats());
      else if (op === CLOSE) this._alive = false;
      else this._queue.push(m as Command);
    }
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
    while (queue.length && !(queue[0][1] > now)) this._apply(...queue.shift()!);
    const p = this._jb.playout;
    this._jb.pull(out, now);
    // Reports from the block just pulled: first audible sample, underrun, end of playout.
    if (p.firstAudibleFrame > this._heard) {
      this._heard = p.firstAudibleFrame;
      this._report(PLAYING, p.firstAudibleMs, this._turn);
    }
    if (p.mediaFrames) this._sounding = true;
    if (p.mediaFrames < out.length / this._ch && (this._sounding || this._ending)) {
      // Media stopped within this block: the turn's tail played out (or was flushed), or it ran dry.
      const at = now + p.mediaFrames * this._msPerFrame;
      if (this._ending) this._report(ENDED, at, this._turn, this._jb.stats());
      else this._report(UNDERRUN, at, this._turn);
      this._sounding = this._ending = false;
    }
  }

  private _apply(op: number, at: number, seq: number, mediaMs: number, samples?: Samples): void {
    const jb = this._jb;
    // END or FLUSH (STATS and CLOSE are answered on receipt).
    if (op >= END) {
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
}
