import { toHeardMs, toRenderMs } from './clock';
import type { JitterBufferOptions, JitterBufferStats, PushMeta } from './jitter-buffer';
import {
  CLOSE,
  END,
  EVENTS,
  F32,
  FLUSH,
  I16,
  PLAYING,
  PROCESSOR,
  REPLY,
  STATS,
  U8,
  type Batch,
  type ProcessorOptions,
  type Report,
} from './protocol';
import { ringBuffer, RingWriter } from './ring';

/** Anything that takes the heard time of a turn's first audible sample: a monitor's turn. */
export interface AudioTurn {
  audioHeard(at: number): void;
  /** Told when the player takes the turn on, so its report can wait for the heard time. */
  awaitAudio?(): void;
}

export interface PlayerOptions extends Pick<JitterBufferOptions, 'channels' | 'minDelayMs' | 'maxDelayMs' | 'maxBufferMs' | 'mode'> {
  /** Sample rate of the pushed PCM; default the context's. Other rates are resampled. */
  sampleRate?: number;
  /** Where the worklet module is served; default `jitter-buffer-worklet.js` next to this module. */
  workletUrl?: string | URL;
  /** Node to play into; default the context's destination, null to connect it yourself. */
  destination?: AudioNode | null;
  /** Credit each player turn's first audible sample to the monitor turn that delivered its first chunk. */
  monitor?: { activeTurn(): AudioTurn | undefined };
}

export interface PlayerPushMeta extends PushMeta {
  /** Arrival time, performance.now() ms (for an OfflineAudioContext: context ms); default now. */
  at?: number;
}

export interface PlayerEventDetail {
  /** When the event's sample is heard: performance.now() ms, output latency included (offline: context ms). */
  time: number;
  /** The same instant in context time, seconds. */
  contextTime: number;
  /** Player turn (1 for the first): a push after end() or flush() starts the next. */
  turn: number;
  /** With `stats`: the turn's counters. */
  stats?: JitterBufferStats;
}

export interface PlayerEventMap {
  /** The turn's first non-silent sample. */
  playing: CustomEvent<PlayerEventDetail>;
  /** Audio ran out before the turn ended: silence is being concealed. */
  underrun: CustomEvent<PlayerEventDetail>;
  /** The turn played out after end(), or stopped after flush() (`time`: its last sample), with its counters. */
  stats: CustomEvent<PlayerEventDetail>;
}

export type Chunk = Float32Array | Int16Array | Uint8Array | ArrayBuffer;

/**
 * The shared ring: the audio thread drains it every quantum, so it fills only while the context is
 * not rendering (suspended), after 87 s of 24 kHz PCM16 or 21 s of 48 kHz Float32.
 */
const RING_BYTES = 1 << 22;
/** What names the player in the errors of its options. */
const WHERE = 'earshot: createPlayer';
/** Each option: the range [min, below) of a number, or 0 where any value will do. */
const OPTIONS: Record<keyof PlayerOptions, readonly [number, number] | 0> = {
  sampleRate: [1, Infinity],
  channels: [1, 33],
  minDelayMs: [0, Infinity],
  maxDelayMs: [0, Infinity],
  maxBufferMs: [0, Infinity],
  mode: 0,
  workletUrl: 0,
  destination: 0,
  monitor: 0,
};

// Typed listeners on the class (declaration merging).
export interface Player {
  addEventListener<K extends keyof PlayerEventMap>(type: K, listener: (event: PlayerEventMap[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
  removeEventListener<K extends keyof PlayerEventMap>(type: K, listener: (event: PlayerEventMap[K]) => void, options?: boolean | EventListenerOptions): void;
  removeEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | EventListenerOptions): void;
}

/**
 * Plays PCM chunks as they arrive through the adaptive jitter buffer, on an AudioWorklet. Arrivals
 * are stamped here (the audio thread has no performance.now()) and mapped to the render clock;
 * commands reach the processor through a SharedArrayBuffer ring when the page is cross-origin
 * isolated, as transferred messages otherwise. Only options out of range throw (at construction); its methods
 * never do: bad chunks are ignored.
 */
export class Player extends EventTarget {
  // Fields set in the constructor, or with no starting value, are only declared: a class field
  // definition would repeat each of them in the bundle. Unset, they read as undefined.
  declare readonly node: AudioWorkletNode;
  /** Whether commands go through shared memory (cross-origin isolated page). */
  declare readonly shared: boolean;
  /** Commands dropped because the shared ring was full (the context had not rendered for a long time). */
  dropped = 0;
  private declare readonly _ctx: BaseAudioContext;
  private declare readonly _ring: RingWriter | undefined;
  private declare readonly _monitor: PlayerOptions['monitor'];
  private readonly _replies: Array<(stats: JitterBufferStats) => void> = [];
  private declare _open?: boolean;
  private _turn = 0;
  private _heard = 0;
  private declare _bound: { n: number; turn: AudioTurn } | undefined;
  /** Without the ring: the commands of this task, posted in one message at its end. */
  private declare _batch: Batch | undefined;

  /** Use `createPlayer`, which loads the worklet module first. Throws on an option out of range, naming it. */
  constructor(ctx: BaseAudioContext, o: PlayerOptions = {}) {
    super();
    for (const key in o) {
      const range = OPTIONS[key as keyof PlayerOptions];
      const value = o[key as keyof PlayerOptions];
      if (range === undefined) throw new TypeError(`${WHERE}: unknown option "${key}"`);
      if (range && value !== undefined && !(typeof value === 'number' && value >= range[0] && value < range[1])) {
        throw new RangeError(`${WHERE}: ${key} must be a number in [${range[0]}, ${range[1]}) (got ${String(value)})`);
      }
    }
    const { sampleRate = ctx.sampleRate, workletUrl, destination, monitor, ...jb } = o;
    const channels = Math.floor(o.channels ?? 1);
    this._ctx = ctx;
    this._monitor = monitor;
    this.shared = globalThis.crossOriginIsolated === true;
    const ring = this.shared ? (ringBuffer(RING_BYTES) as SharedArrayBuffer) : undefined;
    this._ring = ring && new RingWriter(ring);
    const processorOptions: ProcessorOptions = {
      ...jb,
      inputSampleRate: sampleRate,
      channels,
      ring,
    };
    this.node = new AudioWorkletNode(ctx, PROCESSOR, { numberOfInputs: 0, outputChannelCount: [channels], processorOptions });
    if (destination !== null) this.node.connect(destination ?? ctx.destination);
    this.node.port.onmessage = (e: MessageEvent<Report>) => this._report(...e.data);
  }

  /** Queues a chunk that arrived now (or at `meta.at`): Float32, Int16, or PCM16 little-endian bytes. */
  push(chunk: Chunk, meta?: PlayerPushMeta): void {
    const view = ArrayBuffer.isView(chunk);
    const op = chunk instanceof Float32Array ? F32 : chunk instanceof Int16Array ? I16 : chunk instanceof Uint8Array || chunk instanceof ArrayBuffer ? U8 : -1;
    if (op < 0 || !chunk.byteLength) return;
    if (!this._open) {
      this._open = true;
      this._turn++;
      const turn = this._bound?.n === this._turn ? undefined : this._monitor?.activeTurn();
      if (turn) this._bind(this._turn, turn);
    }
    const at = toRenderMs(this._ctx, meta?.at, performance.now());
    const seq = meta?.seq ?? NaN;
    const mediaMs = meta?.mediaMs ?? NaN;
    if (this._ring) {
      this._write(op, at, seq, mediaMs, view ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : new Uint8Array(chunk));
    } else {
      // A copy is transferred: the app may reuse its buffer.
      this._post([op, at, seq, mediaMs, view ? chunk.slice() : new Uint8Array(chunk.slice(0))]);
    }
  }

  /** The turn's stream is complete: what is queued plays out, without an underrun at the end. */
  end(at?: number): void {
    if (!this._open) return;
    this._open = false;
    this._command(END, at);
  }

  /** Barge-in: fades out within 2.5 ms and discards what is queued. */
  flush(at?: number): void {
    this._open = false;
    this._command(FLUSH, at);
  }

  /** The jitter buffer's counters, as the audio thread has them now. */
  stats(): Promise<JitterBufferStats> {
    return new Promise((resolve) => {
      this._replies.push(resolve);
      this._post([STATS]);
    });
  }

  /**
   * Reports the first audible sample of the current turn (if not yet heard) or else of the next one
   * to `turn.audioHeard(time)`: its time to first audio.
   */
  attach(turn: AudioTurn): void {
    this._bind(this._open && this._heard < this._turn ? this._turn : this._turn + 1, turn);
  }

  /** Stops the processor and disconnects the node. */
  close(): void {
    this._post([CLOSE]);
    this.node.disconnect();
  }

  private _bind(n: number, turn: AudioTurn): void {
    this._bound = { n, turn };
    try {
      turn.awaitAudio?.();
    } catch {
      // The turn belongs to the app: its failure is not the player's.
    }
  }

  private _command(op: number, at: number | undefined): void {
    const t = toRenderMs(this._ctx, at, performance.now());
    if (this._ring) this._write(op, t, NaN, NaN);
    else this._post([op, t, NaN, NaN]);
  }

  /**
   * Posts `command` with the others of this task in one message, its samples transferred: a
   * message per push would make a burst of thousands (a backlog read in one task) a long task.
   */
  private _post(command: Batch[number]): void {
    if (!this._batch) {
      queueMicrotask(() => {
        const batch = this._batch!;
        this._batch = undefined;
        this.node.port.postMessage(batch, batch.flatMap((c) => (c[4] ? [c[4].buffer] : [])));
      });
    }
    (this._batch ??= []).push(command);
  }

  private _write(op: number, at: number, seq: number, mediaMs: number, bytes?: Uint8Array): void {
    if (!this._ring!._write(op, at, seq, mediaMs, bytes)) this.dropped++;
  }

  private _report(kind: number, ms: number, turn: number, stats?: JitterBufferStats): void {
    if (kind === REPLY) return this._replies.shift()?.(stats!);
    const time = toHeardMs(this._ctx, ms);
    if (kind === PLAYING) {
      this._heard = turn;
      const bound = this._bound;
      if (bound?.n === turn) {
        this._bound = undefined;
        try {
          bound.turn.audioHeard(time);
        } catch {
          // The turn belongs to the app: its failure is not the player's.
        }
      }
    }
    this.dispatchEvent(new CustomEvent(EVENTS[kind], { detail: { time, contextTime: ms / 1000, turn, stats } }));
  }
}

/**
 * Loads the worklet module (once per context) and starts a player on `context`. An
 * OfflineAudioContext works too: its times are context ms, so arrivals can be scripted with `at`;
 * await `stats()` before `startRendering()`, so that every command has reached the processor.
 */
export async function createPlayer(context: BaseAudioContext, options: PlayerOptions = {}): Promise<Player> {
  // The literal `new URL('./file', import.meta.url)` is what app bundlers recognise to ship the file.
  const url = options.workletUrl ?? new URL(/* @vite-ignore */ './jitter-buffer-worklet.js', import.meta.url);
  await context.audioWorklet.addModule(url).catch((error: unknown) => {
    throw new Error(`${WHERE}: no worklet module at workletUrl ${url}`, { cause: error });
  });
  return new Player(context, options);
}
