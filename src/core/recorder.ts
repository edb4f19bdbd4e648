import { normalize } from '../adapters/classify';
import { Sketch } from './sketch';
import { CRITERIA, evaluateSlo } from './slo';
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
  /**
   * A turn whose reply stops coming for this long (from its start to the first byte, or between one
   * byte or message and the next) fails as an error: `deadline: no reply for <ms> ms`. Default 0: none.
   */
  deadlineMs?: number;
  onTurn?: (turn: TurnReport) => void;
  onConnection?: (connection: ConnectionReport) => void;
  /** Telemetry: spans and trace context for connections and turns. */
  sink?: SinkHooks;
  /** Clock: its `now()` in ms; default the `performance` there is when the recorder is made. */
  clock?: { now(): number };
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
  // Fields set in the constructor, or with no starting value, are only declared: a class field
  // definition would repeat each of them in the bundle. Unset, they read as undefined.
  private declare readonly _clock: { now(): number };
  declare readonly _timeOrigin: number;
  declare readonly _slo: SloOptions;
  declare readonly _stallMs: number;
  declare readonly _chunkTimes: number;
  declare readonly _deadlineMs: number;
  /** Errors inside earshot that were caught, never thrown into the app. */
  _errors = 0;
  private declare readonly _options: RecorderOptions;
  private _peak = 0;
  /** Open connections, `manual` aside. Every open turn is the current turn of one of these or of `manual`. */
  private readonly _live = new Set<ConnectionRecord>();
  /** Exact counters, shaped as the summary reports them. */
  readonly _turns = { started: 0, complete: 0, error: 0, dropped: 0, abandoned: 0, good: 0 };
  private readonly _connections = { opened: 0, clean: 0, dropped: 0, abandoned: 0 };
  private readonly _failedBy = Object.fromEntries([...CRITERIA, 'outcome', 'quality', 'configuration'].map((f) => [f, 0])) as Record<SloFailure, number>;
  /** Bad valid turns by the category of budget they spent. */
  private readonly _bad: Record<SloCategory, number> = { infrastructure: 0, latency: 0, quality: 0, configuration: 0 };
  readonly _sketches = Object.fromEntries(METRICS.map((m) => [m, new Sketch()])) as Record<Metric, Sketch>;
  /** Connection used by manual turns: it is never counted as an open connection. */
  declare readonly manual: ConnectionRecord;
  /** The turn that received the latest content chunk. */
  declare _lastContent: TurnRecord | undefined;
  /** Releases of ended turns whose report waits for their audio to be heard. */
  readonly _held = new Set<() => void>();
  /** The message at the app's code now (see `_hold`): how it is recorded, its data and its stamp. */
  private declare _pending: ((data: unknown, at: number) => void) | undefined;
  private declare _pendingData: unknown;
  private declare _pendingAt: number;

  constructor(options: RecorderOptions) {
    Object.assign(this, {
      _options: options,
      // Kept, not looked up: the global `performance` is a getter of the window's, and a lookup per
      // message cost 0.6–0.9 µs of script.
      _clock: options.clock ?? performance,
      _timeOrigin: options.timeOrigin ?? performance.timeOrigin,
      _slo: options.slo ?? {},
      _stallMs: options.stallMs ?? 250,
      _chunkTimes: options.chunkTimes ?? 0,
      _deadlineMs: options.deadlineMs ?? 0,
    });
    this.manual = new ConnectionRecord(this, 'manual', 'manual');
  }

  /**
   * The clock's time, ms. `performance.now()` called on the object here is a fast call for V8: bound
   * and kept as a function (as before), it allocated its result on every message.
   */
  now(): number {
    return this._clock.now();
  }

  /** Open a connection (one WebSocket, fetch body or peer connection). */
  connection(transport: Transport, url?: string): ConnectionRecord {
    // Ids count up with the counters: the nth connection opened is `c<n>`, the nth turn started `t<n>`.
    const c = new ConnectionRecord(this, `c${++this._connections.opened}`, transport, url);
    this._live.add(c);
    this._peak = Math.max(this._peak, this._live.size);
    c.traceparent = this._hook('start', c.id, undefined, url, c.openedAt);
    return c;
  }

  /** Read the high-water mark of active connections since the last call, and start a new interval. */
  takePeak(): number {
    const peak = this._peak;
    this._peak = this._live.size;
    return peak;
  }

  /** End every open turn and connection as abandoned (page unload). */
  abandonAll(reason: string): void {
    const now = this.now();
    this.manual._current?._finish('abandoned', now, reason);
    // Each close and release removes itself from its set: a Set's iteration carries on past that.
    for (const c of this._live) c.close('abandoned', now, reason);
    // The page is going: a report waiting for its audio goes out now, without it.
    for (const release of this._held) release();
  }

  /**
   * A message reaches the app's code now: stamped last thing before that code, and recorded with
   * that stamp by `record` (the transport's own, made once: no closure is made per message) when
   * the transport calls `_settle` after that code, or before, when anything reads turns first.
   * earshot's work is then never between its stamp and the app's: about 10 µs of it there moved
   * ITL samples by up to milliseconds when a GC or the OS struck in between.
   */
  _hold<T>(record: (data: T, at: number) => void, data: T): void {
    this._settle();
    this._pending = record as (data: unknown, at: number) => void;
    this._pendingData = data;
    this._pendingAt = this.now();
  }

  _settle = (): void => {
    const { _pending: record, _pendingData: data } = this;
    // The message is not kept once recorded.
    this._pending = this._pendingData = undefined;
    // Run after the app's code or from its call: a failure is earshot's, counted, never thrown.
    // (Not through `_guard`: its closure would be an allocation per message.)
    try {
      record?.(data, this._pendingAt);
    } catch (error) {
      this._internalError(error);
    }
  };

  /**
   * Run earshot's own work so that a failure in it is counted, never thrown into the app. A message
   * that waits to be recorded (`_hold`) is recorded first: it came before whatever this is.
   */
  _guard<T>(work: () => T): T | undefined {
    try {
      this._settle();
      return work();
    } catch (error) {
      this._internalError(error);
    }
  }

  /** The sink's hook `name`, if it has one, called guarded: its result, or undefined. */
  _hook<K extends keyof SinkHooks>(name: K, ...args: Parameters<NonNullable<SinkHooks[K]>>): ReturnType<NonNullable<SinkHooks[K]>> | undefined {
    return this._guard(() => (this._options.sink?.[name] as ((...a: typeof args) => ReturnType<NonNullable<SinkHooks[K]>>) | undefined)?.(...args));
  }

  /** An error inside earshot: counted and passed to `onError`, never thrown into the app. */
  _internalError(error: unknown): void {
    this._errors++;
    try {
      this._options.onError?.(error);
    } catch {
      // The app's error callback failing must not turn into an exception in its event handlers.
    }
  }

  _turnEnded(report: TurnReport): void {
    const s = this._sketches;
    this._turns[report.outcome]++;
    // Sketch.add ignores undefined: a turn without a value for a metric adds nothing to it.
    s.ttfb.add(report.ttfbMs!);
    s.ttft.add(report.ttftMs!);
    s.ttfa.add(report.ttfaMs!);
    if (report.outcome === 'complete') s.e2e.add(report.e2eMs!);
    s.tpot.add(report.tpotMs!);
    if (report.itl.count) s.jitter.add(report.itl.stddev);
    s.rtf.add(report.rtf!);
    if (report.outcome !== 'abandoned') {
      if (report.slo.good) this._turns.good++;
      else this._bad[report.slo.category!]++;
      for (const f of report.slo.failed) this._failedBy[f]++;
    }
    this._emit(this._options.onTurn, report);
    this._hook('turn', report);
  }

  _connectionClosed(connection: ConnectionRecord, report: ConnectionReport): void {
    if (!this._live.delete(connection)) return;
    this._connections[report.outcome]++;
    this._emit(this._options.onConnection, report);
    this._hook('connection', report);
  }

  private _emit<T>(callback: ((value: T) => void) | undefined, value: T): void {
    try {
      callback?.(value);
    } catch (error) {
      // The app's callback failed: its error is its own, so surface it without breaking the recorder.
      if (this._options.onError) this._options.onError(error);
      else queueMicrotask(() => {
        throw error;
      });
    }
  }

  summary(): Summary {
    this._settle();
    const t = this._turns;
    const valid = t.complete + t.error + t.dropped;
    const open = t.started - valid - t.abandoned;
    const ended = this._connections.clean + this._connections.dropped;
    const objective = this._slo.objective ?? 0.99;
    const spent = (bad: number) => bad / valid / (1 - objective);
    return {
      turns: { ...t, open, valid },
      goodput: valid ? t.good / valid : undefined,
      failedBy: { ...this._failedBy },
      connections: { ...this._connections, active: this._live.size, peak: this._peak },
      dropRate: ended ? this._connections.dropped / ended : undefined,
      objective,
      budgetRemaining: valid ? 1 - spent(valid - t.good) : undefined,
      budgetSpent: valid ? (Object.fromEntries(Object.entries(this._bad).map(([k, n]) => [k, spent(n)])) as Record<SloCategory, number>) : undefined,
      ...(Object.fromEntries(METRICS.map((m) => [m, this._sketches[m].distribution()])) as Record<Metric, Distribution>),
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
  declare _current: TurnRecord | undefined;
  _turns = 0;
  declare _closed: boolean | undefined;
  /** Per-stream scratch shared with the adapter. */
  readonly _ctx: StreamContext = {};
  /** How messages map to turns; set by the transport before the first message. */
  declare _adapter: Adapter;
  /** W3C traceparent of the connection's span, when a sink traces. */
  declare traceparent: string | undefined;
  /** `received` as `arriving` records it: made once, so no closure is made per message. */
  readonly _record = (data: WireData, at: number) => this.received(data, at);

  declare readonly _recorder: Recorder;
  declare readonly id: string;
  declare readonly transport: Transport;
  declare readonly url: string | undefined;
  declare readonly openedAt: number;

  // Declared fields, assigned at once (see Recorder). A connection opens when it is created.
  constructor(recorder: Recorder, id: string, transport: Transport, url?: string) {
    Object.assign(this, { _recorder: recorder, id, transport, url, openedAt: recorder.now() });
  }

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
      if (
        (!this._adapter.sent || normalize(this._adapter.sent(data, this._ctx)).kind === 'request') &&
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
      // `usage` ignores undefined.
      turn.usage(info.usageTokens!);
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

  /** A message reaches the app's code now: see `ObservedConnection.arriving`. */
  arriving(data: WireData): void {
    this._recorder._hold(this._record, data);
  }

  /** Record the message `arriving` stamped, if it waits. */
  settle(): void {
    this._recorder._settle();
  }

  /**
   * End the connection; a turn still open ends with it (a clean close completes it). A clean end
   * before the terminal message its protocol promised is a drop.
   */
  close(outcome: ConnectionReport['outcome'], now = this._recorder.now(), reason?: string, code?: number): void {
    this._recorder._guard(() => {
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
    });
  }
}

/**
 * The timeline of one turn: request, first byte, content chunks, end. It is also the app's handle on
 * a manual turn (`ManualTurn`): a time left out is now, and a turn not started yet starts at the
 * first call. Transports pass the time each event happened.
 */
export class TurnRecord {
  // Fields with no starting value are only declared (see Recorder).
  /** Undefined until the turn starts. */
  declare id: string | undefined;
  /** W3C traceparent of the turn's span, when a sink traces. */
  declare traceparent: string | undefined;
  declare _ended: boolean | undefined;
  /** Set by `start`, which every path to a report goes through first. */
  private declare _t0: number;
  // The times each chunk reads or writes exist from the start rather than being added by the first
  // byte and chunk: a turn keeps one shape (across two, V8 boxed two loaded times per message). The
  // two written with every message hold numbers from the start, which V8 then writes in place: a field
  // that may hold undefined takes a new heap number for each time written.
  private _firstByte: number | undefined;
  private _lastByte = 0;
  private _firstContent: number | undefined;
  private _lastContent = 0;
  private _lastAudio: number | undefined;
  private declare _heard: number | undefined;
  private declare _shown: number | undefined;
  private _chunks = 0;
  private _tokens = 0;
  /** Reported as is: false, not undefined. */
  private _tokensEstimated = false;
  private declare _usageTokens: number | undefined;
  private _audioMs = 0;
  private _gapMean = 0;
  private _gapM2 = 0;
  private _stalls = 0;
  private readonly _itl = new Sketch();
  private declare _chunkTimes: number[] | undefined;
  private declare _awaitingAudio: boolean | undefined;
  private declare _release: (() => void) | undefined;
  /** The app's verdict on a bad result: its category and reason. */
  private declare _verdict: ['quality' | 'configuration', string | undefined] | undefined;

  declare readonly _connection: ConnectionRecord;

  constructor(connection: ConnectionRecord) {
    this._connection = connection;
  }

  /** The request left at `at`: t0. Only the first call counts; a turn still open on the connection completes. */
  start(at?: number): this {
    if (!this.id) {
      const c = this._connection;
      const recorder = c._recorder;
      // Read here, not as a default: every message's record calls start, and the clock costs.
      at ??= recorder.now();
      c._current?._finish('complete', at);
      c._current = this;
      c._turns++;
      // Until the first byte, the deadline counts from the request.
      this._lastByte = this._t0 = at;
      // Validated as a count: 0 keeps none.
      if (recorder._chunkTimes) this._chunkTimes = [];
      if (recorder._deadlineMs) this._watch(recorder._deadlineMs);
      this.id = `t${++recorder._turns.started}`;
      this.traceparent = recorder._hook('start', this.id, c === recorder.manual ? undefined : c.id, c.url, at);
    }
    return this;
  }

  /** The deadline: one timer per turn, re-armed for what is left when it fires, never per message. */
  private _watch(delay: number): void {
    setTimeout(() => {
      const recorder = this._connection._recorder;
      const ms = recorder._deadlineMs;
      const idle = recorder.now() - this._lastByte;
      if (this._ended) return;
      if (idle < ms) this._watch(ms - idle);
      else this.fail(`deadline: no reply for ${ms} ms`);
    }, delay);
  }

  /** The time of a call (`at`, or now), starting the turn now if it has not started. */
  private _at(at?: number): number {
    this.start();
    return at ?? this._connection._recorder.now();
  }

  /** Any byte or message of the response arrived. */
  byte(at?: number): void {
    at = this._at(at);
    this._firstByte ??= at;
    this._lastByte = at;
  }

  /**
   * A content chunk arrived. `tokens` undefined counts one token and flags the count as an estimate.
   * `audioMs` is the media duration the chunk carries.
   */
  content(tokens?: number, audioMs?: number, at?: number): void {
    if (this._ended) return;
    this.byte(this._at(at));
    this._chunk(tokens, audioMs);
  }

  /**
   * The rest of `content`, at the time `byte` left in `_lastByte`: a field, not an argument, which V8
   * boxes (an allocation per message) for a call it does not inline, as it did not this one.
   */
  private _chunk(tokens?: number, audioMs?: number): void {
    const at = this._lastByte;
    const recorder = this._connection._recorder;
    recorder._lastContent = this;
    if (!this._chunks) this._firstContent = at;
    else {
      const gap = at - this._lastContent;
      this._itl.add(gap);
      // Fed to the session-wide ITL sketch as it happens.
      recorder._sketches.itl.add(gap);
      // Welford's running variance: exact σ of the gaps without keeping them. Gap n comes with chunk n + 1.
      const delta = gap - this._gapMean;
      this._gapMean += delta / this._chunks;
      this._gapM2 += delta * (gap - this._gapMean);
      if (gap > recorder._stallMs) this._stalls++;
    }
    this._lastContent = at;
    this._chunks++;
    // A comparison with undefined is false: a chunk without a count is one estimated token.
    if (tokens! >= 0) this._tokens += tokens!;
    else {
      this._tokens++;
      this._tokensEstimated = true;
    }
    if (audioMs! > 0) {
      this._audioMs += audioMs!;
      this._lastAudio = at;
    }
    // Without a list, the comparison with undefined is false.
    if (this._chunkTimes?.length! < recorder._chunkTimes) this._chunkTimes!.push(at);
  }

  /** The server's own count of output tokens for the whole turn (`usage`). */
  usage(tokens: number): void {
    this.start();
    if (tokens >= 0) this._usageTokens = tokens;
  }

  /**
   * A player will report when this turn's reply is heard: its report waits for that, at most
   * AUDIO_WAIT_MS after the turn ends, since short replies end before their first sample plays.
   */
  awaitAudio(): void {
    this._awaitingAudio = true;
  }

  /** The reply's first text was shown to the reader at `at` (e.g. by `earshot/text`). */
  displayed(at?: number): void {
    this._shown ??= this._at(at);
  }

  /** The first non-silent sample of the reply was heard at `at` (performance.now, output latency included). */
  audioHeard(at?: number): void {
    this._heard ??= this._at(at);
    this._release?.();
  }

  /** The reply ended: the turn completed. */
  end(at?: number): void {
    this._finish('complete', this._at(at));
  }

  /** The turn failed with `error` (an error or its text). */
  fail(error?: unknown, at?: number): void {
    this._finish('error', this._at(at), String(error ?? 'error'));
  }

  /**
   * The app's verdict on the turn's result, before the turn's report goes out: a bad one makes the
   * turn bad, spending budget of `category` (`quality`, or `configuration` for a fault of setup), and
   * `reason` becomes the turn's reason unless it has its own. The last verdict counts.
   */
  quality(good: boolean, reason?: string, category: 'quality' | 'configuration' = 'quality'): void {
    this._verdict = good ? undefined : [category, reason];
  }

  /** The app gave up on the turn (e.g. the user interrupted it): never good, never dropped. */
  abandon(reason = 'abandoned by the app', at?: number): void {
    this._finish('abandoned', this._at(at), reason);
  }

  /** End the turn; only the first call counts, so every turn is reported exactly once. */
  _finish(outcome: Outcome, now: number, reason?: string): void {
    if (this._ended) return;
    this._ended = true;
    const c = this._connection;
    const recorder = c._recorder;
    if (c._current === this) c._current = undefined;
    // Released once: at once, or by the heard time, the wait running out or the page going away. The
    // report is built when it goes out: a heard time that comes while it waits is in it.
    const release = () => {
      if (!recorder._held.delete(release)) return;
      const t0 = this._t0;
      const tokens = this._usageTokens ?? this._tokens;
      const since = (t: number | undefined) => (t === undefined ? undefined : t - t0);
      const report: TurnReport = {
        id: this.id!,
        connectionId: c.id,
        transport: c.transport,
        url: c.url,
        t0,
        startTime: recorder._timeOrigin + t0,
        ttfbMs: since(this._firstByte),
        ttftMs: since(this._firstContent),
        ttfaMs: since(this._heard),
        ttfdMs: since(this._shown),
        e2eMs: (this._firstByte === undefined ? now : this._lastByte) - t0,
        // Content times are set from the first chunk on, and a media end from the first audio.
        tpotMs: this._chunks && tokens > 1 ? (this._lastContent - this._firstContent!) / (tokens - 1) : undefined,
        tokens,
        tokensEstimated: this._usageTokens === undefined && this._tokensEstimated,
        chunks: this._chunks,
        audioMs: this._audioMs,
        rtf: this._audioMs ? (this._lastAudio! - t0) / this._audioMs : undefined,
        itl: {
          ...this._itl.distribution(),
          stddev: this._chunks > 1 ? Math.sqrt(this._gapM2 / (this._chunks - 1)) : 0,
          stalls: this._stalls,
        },
        outcome,
        reason: reason ?? this._verdict?.[1],
        // Judged below, on the report: set here to keep its place among the keys.
        slo: undefined!,
        chunkTimes: this._chunkTimes,
      };
      report.slo = evaluateSlo(report, recorder._slo, this._verdict?.[0]);
      recorder._turnEnded(report);
    };
    recorder._held.add((this._release = release));
    if (!this._awaitingAudio || this._heard !== undefined || outcome === 'abandoned') release();
    else setTimeout(release, AUDIO_WAIT_MS);
  }
}
