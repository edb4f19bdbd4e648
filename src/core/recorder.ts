import { normalize } from '../adapters/classify';
import { Sketch } from './sketch';
import { evaluateSlo } from './slo';
import type {
  Adapter,
  ConnectionReport,
  Distribution,
  Outcome,
  SloCategory,
  SloFailure,
  SinkHooks,
  SloOptions,
  StreamContext,
  Summary,
  Transport,
  TurnReport,
  WireData,
} from './types';

export interface RecorderOptions {
  slo?: SloOptions;
  /** An inter-token gap longer than this is a stall. Default 250 ms. */
  stallMs?: number;
  /** Record the time of each content chunk in `turn.chunkTimes`, up to this many per turn. Default 0. */
  chunkTimes?: number;
  onTurn?: (turn: TurnReport) => void;
  onConnection?: (connection: ConnectionReport) => void;
  /** Telemetry: spans and trace context for connections and turns. */
  sink?: SinkHooks;
  /** Clock in ms; default `performance.now()`. */
  now?: () => number;
  /** Absolute epoch ms of the clock's zero; default `performance.timeOrigin`. */
  timeOrigin?: number;
  /** Called with errors caught inside earshot and errors raised by the app's own callbacks. */
  onError?: (error: unknown) => void;
}

/** How long an ended turn's report waits for a player to hear its first audio. */
const AUDIO_WAIT_MS = 3000;

/** The distributions a summary reports, each kept in a sketch. */
const METRICS = ['ttfb', 'ttft', 'ttfa', 'e2e', 'tpot', 'itl', 'jitter', 'rtf'] as const;
type Metric = (typeof METRICS)[number];

/**
 * The turn recorder: the timeline of each connection and turn, and the aggregates over all of them.
 * Per content chunk the work is constant: a few field updates and two sketch inserts.
 */
export class Recorder {
  readonly now: () => number;
  readonly _timeOrigin: number;
  readonly _slo: SloOptions;
  readonly _stallMs: number;
  readonly _chunkTimes: number;
  readonly _sink: SinkHooks;
  /** Errors inside earshot that were caught, never thrown into the app. */
  _errors = 0;
  readonly #options: RecorderOptions;
  readonly #objective: number;
  #peak = 0;
  /** Open connections, `manual` aside. Every open turn is the current turn of one of these or of `manual`. */
  readonly #live = new Set<ConnectionRecord>();
  /** Exact counters, shaped as the summary reports them. */
  readonly #turns = { started: 0, complete: 0, error: 0, dropped: 0, abandoned: 0, good: 0 };
  readonly #connections = { opened: 0, clean: 0, dropped: 0, abandoned: 0 };
  readonly #failedBy: Record<SloFailure, number> = {
    ttftMs: 0,
    ttfaMs: 0,
    tpotMs: 0,
    e2eMs: 0,
    maxGapMs: 0,
    rtf: 0,
    outcome: 0,
    quality: 0,
    configuration: 0,
  };
  /** Bad valid turns by the category of budget they spent. */
  readonly #bad: Record<SloCategory, number> = { infrastructure: 0, latency: 0, quality: 0, configuration: 0 };
  readonly #sketches = Object.fromEntries(METRICS.map((m) => [m, new Sketch()])) as Record<Metric, Sketch>;
  /** Connection used by manual turns: it is never counted as an open connection. */
  readonly manual: ConnectionRecord;
  /** The turn that received the latest content chunk. */
  _lastContent: TurnRecord | undefined;
  /** Releases of ended turns whose report waits for their audio to be heard. */
  readonly _held = new Set<() => void>();

  constructor(options: RecorderOptions = {}) {
    this.#options = options;
    this.now = options.now ?? (() => performance.now());
    this._timeOrigin = options.timeOrigin ?? performance.timeOrigin;
    const slo = (this._slo = options.slo ?? {});
    this._stallMs = options.stallMs ?? 250;
    this._chunkTimes = options.chunkTimes ?? 0;
    this._sink = options.sink ?? {};
    this.#objective = slo.objective ?? 0.99;
    this.manual = new ConnectionRecord(this, 'manual', 'manual', undefined, this.now());
  }

  /** Open a connection (one WebSocket, fetch body or peer connection). */
  connection(transport: Transport, url?: string): ConnectionRecord {
    // Ids count up with the counters: the nth connection opened is `c<n>`, the nth turn started `t<n>`.
    const c = new ConnectionRecord(this, `c${++this.#connections.opened}`, transport, url, this.now());
    this.#live.add(c);
    if (this.#live.size > this.#peak) this.#peak = this.#live.size;
    c.traceparent = this._guard(() => this._sink.start?.(c.id, undefined, url, c.openedAt));
    return c;
  }

  /** Read the high-water mark of active connections since the last call, and start a new interval. */
  takePeak(): number {
    const peak = this.#peak;
    this.#peak = this.#live.size;
    return peak;
  }

  /** End every open turn and connection as abandoned (page unload). */
  abandonAll(reason: string): void {
    const now = this.now();
    this.manual._current?._finish('abandoned', now, reason);
    // Each close and release removes itself from its set: a Set's iteration carries on past that.
    for (const c of this.#live) c.close('abandoned', now, reason);
    // The page is going: a report waiting for its audio goes out now, without it.
    for (const release of this._held) release();
  }

  /** Run earshot's own work so that a failure in it is counted, never thrown into the app. */
  _guard<T>(work: () => T): T | undefined {
    try {
      return work();
    } catch (error) {
      this._internalError(error);
      return undefined;
    }
  }

  /** An error inside earshot: counted and passed to `onError`, never thrown into the app. */
  _internalError(error: unknown): void {
    this._errors++;
    try {
      this.#options.onError?.(error);
    } catch {
      // The app's error callback failing must not turn into an exception in its event handlers.
    }
  }

  /** A turn started: returns its id. */
  _turnStarted(): string {
    return `t${++this.#turns.started}`;
  }

  /** A content gap, fed to the session-wide ITL sketch as it happens. */
  _gap(ms: number): void {
    this.#sketches.itl.add(ms);
  }

  _turnEnded(report: TurnReport): void {
    const c = this.#turns;
    c[report.outcome]++;
    // Sketch.add ignores undefined: a turn without a value for a metric adds nothing to it.
    const s = this.#sketches;
    s.ttfb.add(report.ttfbMs!);
    s.ttft.add(report.ttftMs!);
    s.ttfa.add(report.ttfaMs!);
    if (report.outcome === 'complete') s.e2e.add(report.e2eMs!);
    s.tpot.add(report.tpotMs!);
    if (report.itl.count > 0) s.jitter.add(report.itl.stddev);
    s.rtf.add(report.rtf!);
    if (report.outcome !== 'abandoned') {
      if (report.slo.good) c.good++;
      else this.#bad[report.slo.category!]++;
      for (const f of report.slo.failed) this.#failedBy[f]++;
    }
    this.#emit(this.#options.onTurn, report);
    this._guard(() => this._sink.turn?.(report));
  }

  _connectionClosed(connection: ConnectionRecord, report: ConnectionReport): void {
    if (!this.#live.delete(connection)) return;
    this.#connections[report.outcome]++;
    this.#emit(this.#options.onConnection, report);
    this._guard(() => this._sink.connection?.(report));
  }

  #emit<T>(callback: ((value: T) => void) | undefined, value: T): void {
    if (!callback) return;
    try {
      callback(value);
    } catch (error) {
      // The app's callback failed: its error is its own, so surface it without breaking the recorder.
      if (this.#options.onError) this.#options.onError(error);
      else queueMicrotask(() => {
        throw error;
      });
    }
  }

  summary(): Summary {
    const t = this.#turns;
    const c = this.#connections;
    const valid = t.complete + t.error + t.dropped;
    const open = t.started - valid - t.abandoned;
    const ended = c.clean + c.dropped;
    const objective = this.#objective;
    const spent = (bad: number) => bad / valid / (1 - objective);
    return {
      turns: { ...t, open, valid },
      goodput: valid > 0 ? t.good / valid : undefined,
      failedBy: { ...this.#failedBy },
      connections: { ...c, active: this.#live.size, peak: this.#peak },
      dropRate: ended > 0 ? c.dropped / ended : undefined,
      objective,
      budgetRemaining: valid > 0 ? 1 - spent(valid - t.good) : undefined,
      budgetSpent: valid > 0 ? (Object.fromEntries(Object.entries(this.#bad).map(([k, n]) => [k, spent(n)])) as Record<SloCategory, number>) : undefined,
      ...(Object.fromEntries(METRICS.map((m) => [m, this.#sketches[m].distribution()])) as Record<Metric, Distribution>),
    };
  }
}

/**
 * One connection: it opens, carries zero or more turns, and ends clean, dropped or abandoned.
 * Transports hand it each message; its adapter's verdicts drive the turns, so a message means the
 * same thing whether it came over a WebSocket, a fetch body or a data channel.
 */
export class ConnectionRecord {
  /** The turn in progress, if any. */
  _current: TurnRecord | undefined;
  _turns = 0;
  _closed = false;
  /** Per-stream scratch shared with the adapter. */
  readonly _ctx: StreamContext = {};
  /** How messages map to turns; set by the transport before the first message. */
  _adapter!: Adapter;
  /** W3C traceparent of the connection's span, when a sink traces. */
  traceparent: string | undefined;

  constructor(
    readonly _recorder: Recorder,
    readonly id: string,
    readonly transport: Transport,
    readonly url: string | undefined,
    readonly openedAt: number,
  ) {}

  /** Start a turn at `t0`; a turn still open on this connection is ended as complete first. */
  startTurn(t0: number): TurnRecord {
    return new TurnRecord(this).start(t0);
  }

  /**
   * The app sends `data` at `at`. A request starts a turn, returned; on a protocol without explicit
   * ends it closes the turn before it (the default WebSocket model), otherwise a turn still open keeps it.
   */
  sent(data: WireData, at = this._recorder.now()): TurnRecord | undefined {
    return this._recorder._guard(() => {
      const adapter = this._adapter;
      if (
        normalize(adapter.sent ? adapter.sent(data, this._ctx) : 'request').kind === 'request' &&
        !this._closed &&
        !(this._current && this._ctx.requireEnd)
      ) {
        return this.startTurn(at);
      }
    });
  }

  /**
   * A message (WebSocket message, SSE event, NDJSON line, body chunk) arrived at `at`: by default,
   * now, once it is classified, the moment the app's own handler gets it (earshot's work is part of
   * the delay the app sees, not an error in the stamp). A request received while a turn is open
   * belongs to that turn (e.g. a server VAD event followed by `response.created`).
   */
  received(data: WireData, at?: number): void {
    try {
      const info = normalize(this._adapter.received(data, this._ctx));
      const now = at ?? this._recorder.now();
      if (info.kind === 'request') {
        if (!this._closed) (this._current ?? this.startTurn(now)).byte(now);
        return;
      }
      const turn = this._current;
      if (!turn) return;
      if (info.usageTokens !== undefined) turn.usage(info.usageTokens);
      if (info.kind === 'content') turn.content(info.tokens, info.audioMs, now);
      else {
        turn.byte(now);
        if (info.kind === 'end') turn.end(now);
        else if (info.kind === 'error') turn.fail(info.error, now);
      }
    } catch (error) {
      this._recorder._internalError(error);
    }
  }

  /**
   * End the connection; a turn still open ends with it (a clean close completes it). A clean end
   * before the terminal message its protocol promised is a drop.
   */
  close(outcome: ConnectionReport['outcome'], now = this._recorder.now(), reason?: string, code?: number): void {
    try {
      if (this._closed) return;
      this._closed = true;
      if (outcome === 'clean' && this._ctx.requireEnd && this._current) {
        outcome = 'dropped';
        reason = 'ended before the end of the turn';
      }
      this._current?._finish(outcome === 'clean' ? 'complete' : outcome, now, reason);
      this._recorder._connectionClosed(this, {
        id: this.id,
        transport: this.transport,
        url: this.url,
        openedAt: this.openedAt,
        closedAt: now,
        outcome,
        reason,
        code,
        turns: this._turns,
      });
    } catch (error) {
      this._recorder._internalError(error);
    }
  }
}

/**
 * The timeline of one turn: request, first byte, content chunks, end. It is also the app's handle on
 * a manual turn (`ManualTurn`): a time left out is now, and a turn not started yet starts at the
 * first call. Transports pass the time each event happened.
 */
export class TurnRecord {
  /** Undefined until the turn starts. */
  id: string | undefined;
  /** W3C traceparent of the turn's span, when a sink traces. */
  traceparent: string | undefined;
  _ended = false;
  #t0 = 0;
  #firstByte: number | undefined;
  #lastByte: number | undefined;
  #firstContent: number | undefined;
  #lastContent: number | undefined;
  #lastAudio: number | undefined;
  #heard: number | undefined;
  #shown: number | undefined;
  #chunks = 0;
  #tokens = 0;
  #tokensEstimated = false;
  #usageTokens: number | undefined;
  #audioMs = 0;
  #gapCount = 0;
  #gapMean = 0;
  #gapM2 = 0;
  #stalls = 0;
  readonly #itl = new Sketch();
  #chunkTimes: number[] | undefined;
  #awaitingAudio = false;
  #release: (() => void) | undefined;
  /** The app's verdict on a bad result: its category and reason. */
  #verdict: ['quality' | 'configuration', string | undefined] | undefined;

  constructor(readonly _connection: ConnectionRecord) {}

  /** The request left at `at`: t0. Only the first call counts; a turn still open on the connection completes. */
  start(at = this._connection._recorder.now()): this {
    if (this.id === undefined) {
      const c = this._connection;
      const recorder = c._recorder;
      c._current?._finish('complete', at);
      c._current = this;
      c._turns++;
      this.#t0 = at;
      if (recorder._chunkTimes > 0) this.#chunkTimes = [];
      const id = (this.id = recorder._turnStarted());
      const parent = c === recorder.manual ? undefined : c.id;
      this.traceparent = recorder._guard(() => recorder._sink.start?.(id, parent, c.url, at));
    }
    return this;
  }

  /** The time of a call (`at`, or now), starting the turn now if it has not started. */
  #at(at?: number): number {
    this.start();
    return at ?? this._connection._recorder.now();
  }

  /** Any byte or message of the response arrived. */
  byte(at?: number): void {
    at = this.#at(at);
    if (this.#firstByte === undefined) this.#firstByte = at;
    this.#lastByte = at;
  }

  /**
   * A content chunk arrived. `tokens` undefined counts one token and flags the count as an estimate.
   * `audioMs` is the media duration the chunk carries.
   */
  content(tokens?: number, audioMs?: number, at?: number): void {
    if (this._ended) return;
    at = this.#at(at);
    this.byte(at);
    const recorder = this._connection._recorder;
    recorder._lastContent = this;
    const last = this.#lastContent;
    if (last === undefined) this.#firstContent = at;
    else {
      const gap = at - last;
      this.#itl.add(gap);
      recorder._gap(gap);
      // Welford's running variance: exact σ of the gaps without keeping them.
      const delta = gap - this.#gapMean;
      this.#gapMean += delta / ++this.#gapCount;
      this.#gapM2 += delta * (gap - this.#gapMean);
      if (gap > recorder._stallMs) this.#stalls++;
    }
    this.#lastContent = at;
    this.#chunks++;
    if (tokens === undefined || !(tokens >= 0)) {
      this.#tokens++;
      this.#tokensEstimated = true;
    } else this.#tokens += tokens;
    if (audioMs !== undefined && audioMs > 0) {
      this.#audioMs += audioMs;
      this.#lastAudio = at;
    }
    const times = this.#chunkTimes;
    if (times && times.length < recorder._chunkTimes) times.push(at);
  }

  /** The server's own count of output tokens for the whole turn (`usage`). */
  usage(tokens: number): void {
    this.start();
    if (tokens >= 0) this.#usageTokens = tokens;
  }

  /**
   * A player will report when this turn's reply is heard: its report waits for that, at most
   * AUDIO_WAIT_MS after the turn ends, since short replies end before their first sample plays.
   */
  awaitAudio(): void {
    this.#awaitingAudio = true;
  }

  /** The reply's first text was shown to the reader at `at` (e.g. by `earshot/text`). */
  displayed(at?: number): void {
    this.#shown ??= this.#at(at);
  }

  /** The first non-silent sample of the reply was heard at `at` (performance.now, output latency included). */
  audioHeard(at?: number): void {
    this.#heard ??= this.#at(at);
    this.#release?.();
  }

  /** The reply ended: the turn completed. */
  end(at?: number): void {
    this._finish('complete', this.#at(at));
  }

  /** The turn failed with `error` (an error or its text). */
  fail(error?: unknown, at?: number): void {
    this._finish('error', this.#at(at), String(error ?? 'error'));
  }

  /**
   * The app's verdict on the turn's result, before the turn's report goes out: a bad one makes the
   * turn bad, spending budget of `category` (`quality`, or `configuration` for a fault of setup), and
   * `reason` becomes the turn's reason unless it has its own. The last verdict counts.
   */
  quality(good: boolean, reason?: string, category: 'quality' | 'configuration' = 'quality'): void {
    this.#verdict = good ? undefined : [category, reason];
  }

  /** The app gave up on the turn (e.g. the user interrupted it): never good, never dropped. */
  abandon(reason = 'abandoned by the app', at?: number): void {
    this._finish('abandoned', this.#at(at), reason);
  }

  /** End the turn; only the first call counts, so every turn is reported exactly once. */
  _finish(outcome: Outcome, now: number, reason?: string): void {
    if (this._ended) return;
    this._ended = true;
    const c = this._connection;
    const recorder = c._recorder;
    if (c._current === this) c._current = undefined;
    const report = () => recorder._turnEnded(this.#report(outcome, now, reason));
    if (!this.#awaitingAudio || this.#heard !== undefined || outcome === 'abandoned') return report();
    // Released once: by the heard time, the wait running out, or the page going away.
    const release = () => {
      if (recorder._held.delete(release)) report();
    };
    recorder._held.add((this.#release = release));
    setTimeout(release, AUDIO_WAIT_MS);
  }

  #report(outcome: Outcome, now: number, reason: string | undefined): TurnReport {
    const c = this._connection;
    const recorder = c._recorder;
    const t0 = this.#t0;
    const tokens = this.#usageTokens ?? this.#tokens;
    const first = this.#firstContent;
    const since = (t: number | undefined) => (t === undefined ? undefined : t - t0);
    const report: TurnReport = {
      id: this.id!,
      connectionId: c.id,
      transport: c.transport,
      url: c.url,
      t0,
      startTime: recorder._timeOrigin + t0,
      ttfbMs: since(this.#firstByte),
      ttftMs: since(first),
      ttfaMs: since(this.#heard),
      ttfdMs: since(this.#shown),
      e2eMs: (this.#lastByte ?? now) - t0,
      // The last content time is set whenever the first is.
      tpotMs: first !== undefined && tokens > 1 ? (this.#lastContent! - first) / (tokens - 1) : undefined,
      tokens,
      tokensEstimated: this.#usageTokens === undefined && this.#tokensEstimated,
      chunks: this.#chunks,
      audioMs: this.#audioMs,
      rtf: this.#lastAudio !== undefined ? (this.#lastAudio - t0) / this.#audioMs : undefined,
      itl: {
        ...this.#itl.distribution(),
        stddev: this.#gapCount > 0 ? Math.sqrt(this.#gapM2 / this.#gapCount) : 0,
        stalls: this.#stalls,
      },
      outcome,
      reason: reason ?? this.#verdict?.[1],
      slo: { good: false, failed: [] },
      chunkTimes: this.#chunkTimes,
    };
    report.slo = evaluateSlo(report, recorder._slo, this.#verdict?.[0]);
    return report;
  }
}
