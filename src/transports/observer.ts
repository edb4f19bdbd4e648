import type { ConnectionRecord, TurnRecord } from '../core/recorder';
import { normalize } from '../adapters/classify';
import type { Adapter, Classification, StreamContext, WireData } from '../core/types';

/** Errors inside earshot are reported here and never reach the app. */
export type InternalErrorHandler = (error: unknown) => void;

/**
 * Applies an adapter's verdicts to one connection's turns. Shared by every transport so a message
 * means the same thing whether it came over a WebSocket, a fetch body or a data channel.
 */
export class StreamObserver {
  readonly ctx: StreamContext = {};

  constructor(
    readonly connection: ConnectionRecord,
    readonly adapter: Adapter,
    readonly onInternalError: InternalErrorHandler,
  ) {}

  /** The app sent `data` at `now`. */
  sent(data: WireData, now: number): void {
    try {
      const verdict = this.adapter.sent ? this.adapter.sent(data, this.ctx) : 'request';
      if (normalize(verdict).kind === 'request') this.request(now, true);
    } catch (error) {
      this.onInternalError(error);
    }
  }

  /** A message (WebSocket message, SSE event, NDJSON line, body chunk) arrived at `now`. */
  received(data: WireData, now: number): void {
    try {
      this.apply(now, this.adapter.received(data, this.ctx));
    } catch (error) {
      this.onInternalError(error);
    }
  }

  /**
   * A request starts a turn. A request the app sends on a protocol without explicit ends closes
   * the turn before it (the default WebSocket model); otherwise a request while a turn is open
   * belongs to that turn (e.g. a server VAD event followed by `response.created`).
   */
  request(now: number, fromApp: boolean): TurnRecord | undefined {
    const c = this.connection;
    if (c.closed) return undefined;
    if (c.current && !(fromApp && !this.ctx.requireEnd)) return c.current;
    return c.startTurn(now);
  }

  /** The stream ended; a turn still open completes unless its protocol promised an end it never sent. */
  endOfStream(now: number): void {
    try {
      if (this.ctx.requireEnd && this.connection.current) {
        this.connection.close('dropped', now, 'ended before the end of the turn');
      } else this.connection.close('clean', now);
    } catch (error) {
      this.onInternalError(error);
    }
  }

  /** The connection ended otherwise: dropped, or abandoned by the app. */
  close(outcome: 'dropped' | 'abandoned', now: number, reason: string, code?: number): void {
    try {
      this.connection.close(outcome, now, reason, code);
    } catch (error) {
      this.onInternalError(error);
    }
  }

  private apply(now: number, verdict: Classification): void {
    const info = normalize(verdict);
    if (info.kind === 'request') {
      this.request(now, false)?.byte(now);
      return;
    }
    const turn = this.connection.current;
    if (!turn) return;
    if (info.usageTokens !== undefined) turn.usage(info.usageTokens);
    if (info.kind === 'content') turn.content(now, info.tokens, info.audioMs);
    else {
      turn.byte(now);
      if (info.kind === 'end') turn.finish('complete', now);
      else if (info.kind === 'error') turn.finish('error', now, info.error ?? 'error');
    }
  }
}
