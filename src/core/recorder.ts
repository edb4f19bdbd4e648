import { BurnTracker, SRE_WINDOWS } from './burn';
import { Sketch } from './sketch';
import { evaluateSlo } from './slo';
import type {
  ConnectionReport,
  Outcome,
  SloCriterion,
  SloOptions,
  Summary,
  Transport,
  TurnReport,
} from './types';

export interface RecorderOptions {
  slo?: SloOptions;
  /** An inter-token gap longer than this is a stall. Default 250 ms. */
  stallMs?: number;
  /** Record the time of each content chunk in `turn.chunkTimes`, up to this many per turn. Default 0. */
  chunkTimes?: number;
  onTurn?: (turn: TurnReport) => void;
  onConnection?: (connection: ConnectionReport) => void;
  /** Clock in ms; default `performance.now()`. */
  now?: () => number;
  /** Absolute epoch ms of the clock's zero; default `performance.timeOrigin`. */
  timeOrigin?: number;
  /** Called with errors raised by the app's own callbacks, which earshot catches. */
  onError?: (error: unknown) => void;
}

type ConnectionOutcome = ConnectionReport['outcome'];

/**
 * The turn recorder: the timeline of each connection and turn, and the aggregates over all of them.
 * Per content chunk the work is constant: a few field updates and two sketch inserts.
 */
export class Recorder {
  readonly now: () => number;
  readonly timeOrigin: number;
  readonly slo: SloOptions;
  readonly stallMs: number;
  readonly chunkTimesCap: number;
  private readonly options: RecorderOptions;
  private connectionSeq = 0;
  private turnSeq = 0;
  private active = 0;
  private peak = 0;
  private readonly open = new Set<TurnRecord>();
  private readonly liveConnections = new Set<ConnectionRecord>();
  private readonly counts = {
    started: 0,
    complete: 0,
    error: 0,
    dropped: 0,
    abandoned: 0,
    good: 0,
    opened: 0,
    clean: 0,
    connDropped: 0,
    connAbandoned: 0,
  };
  private readonly failedBy: Record<SloCriterion | 'outcome', number> = {
    ttftMs: 0,
    ttfaMs: 0,
    tpotMs: 0,
    e2eMs: 0,
    maxGapMs: 0,
    outcome: 0,
  };
  private readonly burn: BurnTracker;
  private readonly sketches = {
    ttfb: new Sketch(),
    ttft: new Sketch(),
    ttfa: new Sketch(),
    e2e: new Sketch(),
    tpot: new Sketch(),
    itl: new Sketch(),
    jitter: new Sketch(),
    rtf: new Sketch(),
  };
  /** Connection used by manual turns: it is never counted as an open connection. */
  readonly manual: ConnectionRecord;

  constructor(options: RecorderOptions = {}) {
    this.options = options;
    this.now = options.now ?? (() => performance.now());
    this.timeOrigin = options.timeOrigin ?? performance.timeOrigin;
    this.slo = options.slo ?? {};
    this.stallMs = options.stallMs ?? 250;
    this.chunkTimesCap = options.chunkTimes ?? 0;
    this.burn = new BurnTracker(this.slo.windows ?? SRE_WINDOWS, this.objective, this.slo.minEvents ?? 10);
    this.manual = new ConnectionRecord(this, 'manual', 'manual', undefined, this.now());
  }

  get objective(): number {
    return this.slo.objective ?? 0.99;
  }

  /** Open a connection (one WebSocket, fetch body or peer connection). */
  connection(transport: Transport, url?: string): ConnectionRecord {
    const c = new ConnectionRecord(this, `c${++this.connectionSeq}`, transport, url, this.now());
    this.counts.opened++;
    this.active++;
    if (this.active > this.peak) this.peak = this.active;
    this.liveConnections.add(c);
    return c;
  }

  /** Read the high-water mark of active connections since the last call, and start a new interval. */
  takePeak(): number {
    const peak = this.peak;
    this.peak = this.active;
    return peak;
  }

  /** End every open turn and connection as abandoned (page unload). */
  abandonAll(reason: string): void {
    const now = this.now();
    for (const turn of [...this.open]) turn.finish('abandoned', now, reason);
    for (const c of [...this.liveConnections]) c.close('abandoned', now, reason);
  }

  /** @internal */
  nextTurnId(): string {
    return `t${++this.turnSeq}`;
  }

  /** @internal */
  turnStarted(turn: TurnRecord): void {
    this.counts.started++;
    this.open.add(turn);
  }

  /** @internal A content gap, fed to the session-wide ITL sketch as it happens. */
  gap(ms: number): void {
    this.sketches.itl.add(ms);
  }

  /** @internal */
  turnEnded(turn: TurnRecord, report: TurnReport): void {
    this.open.delete(turn);
    const c = this.counts;
    c[report.outcome]++;
    const s = this.sketches;
    if (report.ttfbMs !== undefined) s.ttfb.add(report.ttfbMs);
    if (report.ttftMs !== undefined) s.ttft.add(report.ttftMs);
    if (report.ttfaMs !== undefined) s.ttfa.add(report.ttfaMs);
    if (report.e2eMs !== undefined && report.outcome === 'complete') s.e2e.add(report.e2eMs);
    if (report.tpotMs !== undefined) s.tpot.add(report.tpotMs);
    if (report.itl.count > 0) s.jitter.add(report.itl.stddev);
    if (report.rtf !== undefined) s.rtf.add(report.rtf);
    if (report.outcome !== 'abandoned') {
      if (report.slo.good) c.good++;
      for (const f of report.slo.failed) this.failedBy[f]++;
      this.burn.record(report.slo.good, this.now());
    }
    this.emit(this.options.onTurn, report);
  }

  /** @internal */
  connectionClosed(connection: ConnectionRecord, report: ConnectionReport): void {
    if (!this.liveConnections.delete(connection)) return;
    this.active--;
    if (report.outcome === 'clean') this.counts.clean++;
    else if (report.outcome === 'dropped') this.counts.connDropped++;
    else this.counts.connAbandoned++;
    this.emit(this.options.onConnection, report);
  }

  private emit<T>(callback: ((value: T) => void) | undefined, value: T): void {
    if (!callback) return;
    try {
      callback(value);
    } catch (error) {
      // The app's callback failed: its error is its own, so surface it without breaking the recorder.
      if (this.options.onError) this.options.onError(error);
      else queueMicrotask(() => {
        throw error;
      });
    }
  }

  summary(): Summary {
    const c = this.counts;
    const valid = c.complete + c.error + c.dropped;
    const ended = c.clean + c.connDropped;
    const objective = this.objective;
    const s = this.sketches;
    return {
      turns: {
        started: c.started,
        open: this.open.size,
        complete: c.complete,
        error: c.error,
        dropped: c.dropped,
        abandoned: c.abandoned,
        valid,
        good: c.good,
      },
      goodput: valid > 0 ? c.good / valid : undefined,
      failedBy: { ...this.failedBy },
      connections: {
        opened: c.opened,
        active: this.active,
        peak: this.peak,
        clean: c.clean,
        dropped: c.connDropped,
        abandoned: c.connAbandoned,
      },
      dropRate: ended > 0 ? c.connDropped / ended : undefined,
      objective,
      budgetRemaining:
        valid > 0 ? 1 - (valid - c.good) / valid / (1 - objective) : undefined,
      burn: this.burn.report(this.now()),
      ttfb: s.ttfb.distribution(),
      ttft: s.ttft.distribution(),
      ttfa: s.ttfa.distribution(),
      e2e: s.e2e.distribution(),
      tpot: s.tpot.distribution(),
      itl: s.itl.distribution(),
      jitter: s.jitter.distribution(),
      rtf: s.rtf.distribution(),
    };
  }
}

/** One connection: it opens, carries zero or more turns, and ends clean, dropped or abandoned. */
export class ConnectionRecord {
  /** The turn in progress, if any. */
  current: TurnRecord | undefined;
  turns = 0;
  closed = false;

  constructor(
    readonly recorder: Recorder,
    readonly id: string,
    readonly transport: Transport,
    readonly url: string | undefined,
    readonly openedAt: number,
  ) {}

  /** Start a turn at `t0`; a turn still open on this connection is ended as complete first. */
  startTurn(t0: number): TurnRecord {
    this.current?.finish('complete', t0);
    const turn = new TurnRecord(this, t0);
    this.current = turn;
    this.turns++;
    return turn;
  }

  /**
   * End the connection. A turn still open ends with `turnOutcome` (default: the connection's own
   * outcome mapped to a turn outcome; a clean close completes it).
   */
  close(outcome: ConnectionOutcome, now: number, reason?: string, code?: number, turnOutcome?: Outcome): void {
    if (this.closed) return;
    this.closed = true;
    this.current?.finish(turnOutcome ?? (outcome === 'clean' ? 'complete' : outcome), now, reason);
    this.recorder.connectionClosed(this, {
      id: this.id,
      transport: this.transport,
      url: this.url,
      openedAt: this.openedAt,
      closedAt: now,
      outcome,
      reason,
      code,
      turns: this.turns,
    });
  }
}

/** The timeline of one turn: request, first byte, content chunks, end. */
export class TurnRecord {
  readonly id: string;
  ended = false;
  private firstByte: number | undefined;
  private lastByte: number | undefined;
  private firstContent: number | undefined;
  private lastContent: number | undefined;
  private lastAudio: number | undefined;
  private heard: number | undefined;
  private chunks = 0;
  private tokens = 0;
  private tokensEstimated = false;
  private usageTokens: number | undefined;
  private audioMs = 0;
  private gapCount = 0;
  private gapMean = 0;
  private gapM2 = 0;
  private stalls = 0;
  private readonly itl = new Sketch();
  private readonly chunkTimes: number[] | undefined;

  constructor(
    readonly connection: ConnectionRecord,
    readonly t0: number,
  ) {
    const recorder = connection.recorder;
    this.id = recorder.nextTurnId();
    if (recorder.chunkTimesCap > 0) this.chunkTimes = [];
    recorder.turnStarted(this);
  }

  /** Any byte or message of the response arrived. */
  byte(now: number): void {
    if (this.firstByte === undefined) this.firstByte = now;
    this.lastByte = now;
  }

  /**
   * A content chunk arrived. `tokens` undefined counts one token and flags the count as an estimate.
   * `audioMs` is the media duration the chunk carries.
   */
  content(now: number, tokens?: number, audioMs?: number): void {
    if (this.ended) return;
    this.byte(now);
    const last = this.lastContent;
    if (last === undefined) this.firstContent = now;
    else {
      const gap = now - last;
      this.itl.add(gap);
      this.connection.recorder.gap(gap);
      // Welford's running variance: exact σ of the gaps without keeping them.
      const delta = gap - this.gapMean;
      this.gapMean += delta / ++this.gapCount;
      this.gapM2 += delta * (gap - this.gapMean);
      if (gap > this.connection.recorder.stallMs) this.stalls++;
    }
    this.lastContent = now;
    this.chunks++;
    if (tokens === undefined || !(tokens >= 0)) {
      this.tokens++;
      this.tokensEstimated = true;
    } else this.tokens += tokens;
    if (audioMs !== undefined && audioMs > 0) {
      this.audioMs += audioMs;
      this.lastAudio = now;
    }
    const times = this.chunkTimes;
    if (times && times.length < this.connection.recorder.chunkTimesCap) times.push(now);
  }

  /** The server's own count of output tokens for the whole turn (`usage`). */
  usage(tokens: number): void {
    if (tokens >= 0) this.usageTokens = tokens;
  }

  /** The first non-silent sample of the reply was heard at `now` (performance.now, output latency included). */
  audioHeard(now: number): void {
    if (this.heard === undefined) this.heard = now;
  }

  /** End the turn; only the first call counts, so every turn is reported exactly once. */
  finish(outcome: Outcome, now: number, reason?: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.connection.current === this) this.connection.current = undefined;
    this.connection.recorder.turnEnded(this, this.report(outcome, now, reason));
  }

  private report(outcome: Outcome, now: number, reason: string | undefined): TurnReport {
    const recorder = this.connection.recorder;
    const t0 = this.t0;
    const tokens = this.usageTokens ?? this.tokens;
    const first = this.firstContent;
    const last = this.lastContent;
    const itl = this.itl.distribution();
    const report: TurnReport = {
      id: this.id,
      connectionId: this.connection.id,
      transport: this.connection.transport,
      url: this.connection.url,
      t0,
      startTime: recorder.timeOrigin + t0,
      ttfbMs: this.firstByte === undefined ? undefined : this.firstByte - t0,
      ttftMs: first === undefined ? undefined : first - t0,
      ttfaMs: this.heard === undefined ? undefined : this.heard - t0,
      e2eMs: (this.lastByte ?? now) - t0,
      tpotMs: first !== undefined && last !== undefined && tokens > 1 ? (last - first) / (tokens - 1) : undefined,
      tokens,
      tokensEstimated: this.usageTokens === undefined && this.tokensEstimated,
      chunks: this.chunks,
      audioMs: this.audioMs,
      rtf: this.lastAudio !== undefined ? (this.lastAudio - t0) / this.audioMs : undefined,
      itl: {
        ...itl,
        stddev: this.gapCount > 0 ? Math.sqrt(this.gapM2 / this.gapCount) : 0,
        stalls: this.stalls,
      },
      outcome,
      reason,
      slo: { good: false, failed: [] },
      chunkTimes: this.chunkTimes,
    };
    report.slo = evaluateSlo(report, recorder.slo);
    return report;
  }
}
