/**
 * Voice-to-voice latency: the gap between the end of the user's speech and the first audible sample
 * of the reply, with the stage each part of it went to. Built on the monitor's public sink hooks: the
 * end of speech (from earshot's microphone VAD, or mapped from the server's own VAD) pairs with the
 * next turn that starts, and that turn's report splits the rest.
 */
import type { Adapter, AdapterLike, StreamContext, TurnReport, WireData } from '../core/types';
import type { ManualTurn, Monitor, Sink } from '../monitor';
import { AppendLog, appendedBytes, speechStoppedMs } from './appends';

/** Who marked the end of speech: earshot's microphone VAD (or the app's own), or the server's VAD. */
export type SpeechSource = 'vad' | 'server';

/**
 * The stages of a voice turn, in ms, consecutive: together they make `voiceToVoiceMs`. A stage the
 * turn did not go through, or that was not seen, is undefined (a reply with no content, audio not
 * queued through a player passed `voice` as its monitor, e.g. a WebRTC track).
 */
export interface VoiceTurnParts {
  /**
   * End of speech to the turn's t0: the request left (VAD), or the server's end-of-speech event
   * arrived (server VAD): for the latter, the server's silence wait and the trip back.
   */
  speechToRequestMs: number;
  /** t0 to the reply's first byte: TTFB. */
  requestToFirstByteMs?: number;
  /** First byte to first content chunk: TTFT − TTFB. */
  firstByteToFirstContentMs?: number;
  /** First content chunk to the player's first push of the reply's audio. */
  firstContentToAudioQueuedMs?: number;
  /** That push to the first audible sample, output latency included: what the jitter buffer and audio path added. */
  audioQueuedToHeardMs?: number;
}

export interface VoiceTurnReport {
  /** The turn's id, as in its `TurnReport`. */
  turnId: string;
  /** performance.now() of the end of the user's speech. */
  speechEndAt: number;
  source: SpeechSource;
  /** End of speech to the reply's first audible sample; undefined when the reply was never heard. */
  voiceToVoiceMs?: number;
  parts: VoiceTurnParts;
  /** The turn's own report. */
  turn: TurnReport;
}

export interface VoiceTurnsOptions {
  /** Bytes per ms of the audio the app appends: 48 (24 kHz PCM16, the Realtime API's default), 8 for G.711. */
  inputBytesPerMs?: number;
  /**
   * Silence the server's `audio_end_ms` includes after the last voiced audio, ms; default 0. Set it to
   * the session's `silence_duration_ms` for a server whose end of speech is where its silence wait ended.
   */
  serverSilenceMs?: number;
}

/** A sink for `createMonitor({ sink })` (with `combineSinks` beside others) that reports voice turns. */
export interface VoiceTurns extends Sink {
  /**
   * The user's speech ended at `at` (performance.now(), e.g. `SpeechEvent.time`). The next turn that
   * starts at or after `at` is its voice turn; a turn that already started since `at`, with no end of
   * speech yet, takes it (a VAD slower than the server's). A later end before that turn replaces it.
   */
  speechEnded(at: number, source?: SpeechSource): void;
  /**
   * `inner` (e.g. `adapters.openaiRealtime()`) that also tracks the audio the app appends
   * (`input_audio_buffer.append`) and maps the server's `speech_stopped` to its local time.
   */
  adapter(inner: AdapterLike): Adapter;
  /** Calls `callback` with each voice turn's report, once its turn's report is made; returns the undo. */
  onVoiceTurn(callback: (report: VoiceTurnReport) => void): () => void;
  /**
   * The monitor's active turn, noting when the reply's audio was first queued: pass `voice` as a
   * player's `monitor` (`createPlayer(ctx, { monitor: voice })`), which asks at its first push.
   */
  activeTurn(): ManualTurn | undefined;
}

/** A turn the monitor started, and what is known of its voice side before its report. */
interface Started {
  t0: number;
  end?: [at: number, source: SpeechSource];
  queued?: number;
}

const since = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : a - b);
const valid = (v: number | undefined, fallback: number) => (typeof v === 'number' && v >= 0 && v < Infinity ? v : fallback);

export function voiceTurns(options: VoiceTurnsOptions = {}): VoiceTurns {
  const bytesPerMs = valid(options.inputBytesPerMs, 0) || 48;
  const silenceMs = valid(options.serverSilenceMs, 0);
  const callbacks = new Set<(report: VoiceTurnReport) => void>();
  /** Open turns, until their report: each is reported exactly once, so this holds only the turns in flight. */
  const open = new Map<string, Started>();
  /** Per connection: the audio it appended. */
  const logs = new WeakMap<StreamContext, AppendLog>();
  let monitor: Monitor | undefined;
  /** An end of speech no turn has taken yet. */
  let speech: Started['end'];
  /** The turn that started last, while open. */
  let last: Started | undefined;

  const voice: VoiceTurns = {
    attach(m) {
      monitor = m;
    },

    start(id, _parent, _url, at) {
      // Connections are `c<n>`, turns `t<n>`.
      if (id[0] !== 't') return undefined;
      open.set(id, (last = { t0: at }));
      if (speech && speech[0] <= at) {
        last.end = speech;
        speech = undefined;
      }
      // No trace context of its own: another sink (see `combineSinks`) traces.
      return undefined;
    },

    speechEnded(at, source = 'vad') {
      if (!(typeof at === 'number' && at > -Infinity && at < Infinity)) return;
      if (last && !last.end && at <= last.t0) last.end = [at, source];
      else speech = [at, source];
    },

    activeTurn() {
      const turn = monitor?.activeTurn();
      const started = turn?.id === undefined ? undefined : open.get(turn.id);
      if (started) started.queued ??= performance.now();
      return turn;
    },

    turn(report) {
      const started = open.get(report.id);
      if (!started) return;
      open.delete(report.id);
      if (last === started) last = undefined;
      if (!started.end) return;
      const [end, source] = started.end;
      const { t0, ttfbMs, ttftMs, ttfaMs } = report;
      const heard = ttfaMs === undefined ? undefined : t0 + ttfaMs;
      const voiceTurn: VoiceTurnReport = {
        turnId: report.id,
        speechEndAt: end,
        source,
        voiceToVoiceMs: since(heard, end),
        parts: {
          speechToRequestMs: t0 - end,
          requestToFirstByteMs: ttfbMs,
          firstByteToFirstContentMs: since(ttftMs, ttfbMs),
          firstContentToAudioQueuedMs: since(started.queued, ttftMs === undefined ? undefined : t0 + ttftMs),
          audioQueuedToHeardMs: since(heard, started.queued),
        },
        turn: report,
      };
      for (const callback of callbacks) {
        try {
          callback(voiceTurn);
        } catch (error) {
          // The app's callback failed: its error is its own, surfaced without stopping the others.
          queueMicrotask(() => {
            throw error;
          });
        }
      }
    },

    onVoiceTurn(callback) {
      callbacks.add(callback);
      return () => void callbacks.delete(callback);
    },

    adapter(inner) {
      const a: Adapter =
        typeof inner === 'function'
          ? { name: inner.name, received: (data, ctx) => inner(data, 'in', ctx), sent: (data, ctx) => inner(data, 'out', ctx) }
          : inner;
      // Realtime events are text: binary frames (and Blobs) are never appends or VAD events.
      const str = (data: WireData) => (typeof data === 'string' ? data : '');
      return {
        name: a.name,
        framing: a.framing,
        received(data, ctx) {
          const ms = speechStoppedMs(str(data));
          const at = ms === undefined ? undefined : logs.get(ctx)?.timeOf(ms - silenceMs);
          // Before the inner adapter opens the turn on this event, so the turn takes this end of speech.
          if (at !== undefined) voice.speechEnded(at, 'server');
          return a.received(data, ctx);
        },
        sent(data, ctx) {
          const bytes = appendedBytes(str(data));
          if (bytes !== undefined) {
            let log = logs.get(ctx);
            if (!log) logs.set(ctx, (log = new AppendLog()));
            log.add(bytes / bytesPerMs, performance.now());
          }
          return a.sent ? a.sent(data, ctx) : 'request';
        },
      };
    },
  };
  return voice;
}
