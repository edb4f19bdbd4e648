import { OnsetDetector } from './onset';

/** Quiet before a sound that makes it an onset: longer than the gaps inside a waveform. */
const GAP_MS = 20;

/**
 * Called with each onset: `at` is performance.now() ms, either when the jitter buffer released the
 * sample to the device path (`released`: its playout delay is still to add) or when it is heard.
 * Returns whether to keep listening.
 */
export type OnsetCallback = (at: number, released: boolean) => boolean;

/** The remote audio of a peer connection, listened to for onsets while a turn waits for its audio. */
export interface RemoteAudio {
  add(track: MediaStreamTrack): void;
  watch(): void;
  unwatch(): void;
  close(): void;
}

// Chromium's breakout box (mediacapture-transform), which TypeScript's DOM library does not describe.
declare const MediaStreamTrackProcessor: (new (init: { track: MediaStreamTrack }) => { readable: ReadableStream<AudioData> }) | undefined;

/**
 * Listen to the remote audio the most exact way the browser allows: its decoded frames, each
 * stamped when the jitter buffer released it (`MediaStreamTrackProcessor`, Chromium), or else the
 * Web Audio graph's view of it, mapped through the context's output timestamp. Chromium hands
 * Web Audio a remote track through a FIFO of up to 10 device buffers whose fill is not observable,
 * so there the frames are the only exact view.
 */
export function remoteAudio(context: AudioContext | undefined, threshold: number, onset: OnsetCallback): RemoteAudio {
  return typeof MediaStreamTrackProcessor === 'function'
    ? new FrameAudio(threshold, onset)
    : new AnalyserAudio(context, threshold, onset);
}

/**
 * Plays a remote track in a muted element: Chromium runs a remote track's audio (its jitter buffer's
 * output, and the frames any other consumer sees) only while a media element plays it.
 */
function playMuted(track: MediaStreamTrack): HTMLAudioElement {
  const element = new Audio();
  element.muted = true;
  element.srcObject = new MediaStream([track]);
  // Autoplay of a muted element is allowed; where it is not, the app's own element plays the track.
  element.play().catch(() => undefined);
  return element;
}

/**
 * The decoded frames of each track (10 ms each in Chromium), read only while watching. A frame's
 * timestamp is when the jitter buffer released it; its time base is learnt from the frames as they
 * arrive (the largest timestamp - arrival seen, as a frame never arrives before its release).
 */
class FrameAudio implements RemoteAudio {
  readonly #threshold: number;
  readonly #onset: OnsetCallback;
  readonly #tracks = new Map<MediaStreamTrack, HTMLAudioElement>();
  readonly #readers = new Set<ReadableStreamDefaultReader<AudioData>>();
  /** Frame timestamp (ms) minus performance.now() of its release: the time base's offset. */
  #offset = -Infinity;
  #samples = new Float32Array(0);

  constructor(threshold: number, onset: OnsetCallback) {
    this.#threshold = threshold;
    this.#onset = onset;
  }

  add(track: MediaStreamTrack): void {
    if (this.#tracks.has(track)) return;
    this.#tracks.set(track, playMuted(track));
    if (this.#readers.size) this.#read(track);
  }

  watch(): void {
    if (this.#readers.size === 0) for (const track of this.#tracks.keys()) this.#read(track);
  }

  unwatch(): void {
    for (const reader of this.#readers) reader.cancel().catch(() => undefined);
    this.#readers.clear();
  }

  close(): void {
    this.unwatch();
    for (const element of this.#tracks.values()) element.srcObject = null;
    this.#tracks.clear();
  }

  async #read(track: MediaStreamTrack): Promise<void> {
    const reader = new MediaStreamTrackProcessor!({ track }).readable.getReader();
    this.#readers.add(reader);
    // Its own detector: nothing is known of the audio before the first frame read.
    let detector: OnsetDetector | undefined;
    try {
      for (;;) {
        const { value: frame } = await reader.read();
        if (!frame) return;
        try {
          detector ??= new OnsetDetector(this.#threshold, Math.round((frame.sampleRate * GAP_MS) / 1000));
          if (this.#readers.has(reader) && !this.#frame(frame, detector)) this.unwatch();
        } finally {
          frame.close();
        }
      }
    } catch {
      // The track ended or the reader was cancelled.
    }
  }

  /** Scans one frame for onsets; returns whether to keep listening. */
  #frame(frame: AudioData, detector: OnsetDetector): boolean {
    const ms = frame.timestamp / 1000;
    this.#offset = Math.max(this.#offset, ms - performance.now());
    const rate = frame.sampleRate;
    const n = frame.numberOfFrames;
    if (this.#samples.length < n) this.#samples = new Float32Array(n);
    const samples = this.#samples;
    // The first channel: a voice is the same in every channel.
    frame.copyTo(samples, { planeIndex: 0, format: 'f32-planar' });
    const released = ms - this.#offset;
    for (let i = 0; (i = detector.scan(samples, i, n)) >= 0; i++) {
      if (!this.#onset(released + (i / rate) * 1000, true)) return false;
    }
    return true;
  }
}

/** Analyser history: 32768 frames (0.68 s at 48 kHz) is the most an AnalyserNode keeps. */
const HISTORY = 32768;
/** How often the history is read while a turn waits for its audio: well within what it holds. */
const POLL_MS = 100;

/**
 * The tracks played into an AnalyserNode (nothing is output) whose history is read every 100 ms
 * while watching: no AudioWorklet module to serve (no CSP exception), no audio work otherwise.
 */
class AnalyserAudio implements RemoteAudio {
  readonly #ctx: AudioContext;
  readonly #own: boolean;
  readonly #analyser: AnalyserNode;
  readonly #history = new Float32Array(HISTORY);
  readonly #detector: OnsetDetector;
  readonly #onset: OnsetCallback;
  readonly #tracks = new Map<MediaStreamTrack, [HTMLAudioElement, MediaStreamAudioSourceNode]>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /** Context frame of the first sample not yet scanned; -1 before the first read. */
  #next = -1;

  constructor(context: AudioContext | undefined, threshold: number, onset: OnsetCallback) {
    this.#own = !context;
    this.#ctx = context ?? new AudioContext({ latencyHint: 'interactive' });
    this.#analyser = new AnalyserNode(this.#ctx, { fftSize: HISTORY });
    this.#detector = new OnsetDetector(threshold, Math.round((this.#ctx.sampleRate * GAP_MS) / 1000));
    this.#onset = onset;
  }

  add(track: MediaStreamTrack): void {
    if (this.#tracks.has(track)) return;
    const source = this.#ctx.createMediaStreamSource(new MediaStream([track]));
    source.connect(this.#analyser);
    this.#tracks.set(track, [playMuted(track), source]);
  }

  watch(): void {
    if (this.#ctx.state === 'suspended') this.#ctx.resume().catch(() => undefined);
    this.#timer ??= setInterval(() => this.#poll(), POLL_MS);
  }

  unwatch(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  close(): void {
    this.unwatch();
    for (const [element, source] of this.#tracks.values()) {
      source.disconnect();
      element.srcObject = null;
    }
    this.#tracks.clear();
    if (this.#own) this.#ctx.close().catch(() => undefined);
  }

  /**
   * Scans what the analyser received since the last read. Its history ends at the last rendered
   * frame, `currentTime`; a frame is heard at `performanceTime + (frame time - contextTime)` by the
   * context's output timestamp, which includes the output latency.
   */
  #poll(): void {
    const ctx = this.#ctx;
    const rate = ctx.sampleRate;
    const history = this.#history;
    let end = 0;
    // Read again (a few times at most) if a render quantum landed between the clock and the history.
    for (let tries = 0; tries < 3 && end !== Math.round(ctx.currentTime * rate); tries++) {
      end = Math.round(ctx.currentTime * rate);
      this.#analyser.getFloatTimeDomainData(history);
    }
    const first = end - HISTORY;
    let i = this.#next - first;
    if (this.#next < 0 || i < 0) {
      this.#detector.reset();
      i = 0;
    }
    this.#next = end;
    const ts = ctx.getOutputTimestamp();
    // Before the device reports a position, the clock is mapped through the latency estimate.
    const offset = ts.contextTime
      ? ts.performanceTime! - ts.contextTime * 1000
      : performance.now() - ctx.currentTime * 1000 + (ctx.outputLatency || ctx.baseLatency) * 1000;
    for (; (i = this.#detector.scan(history, i)) >= 0; i++) {
      if (!this.#onset(((first + i) / rate) * 1000 + offset, false)) return this.unwatch();
    }
  }
}
