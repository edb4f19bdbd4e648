import { toAdapter } from './adapters';
import { Recorder, TurnRecord, type RecorderOptions } from './core/recorder';
import { redactUrl } from './core/redact';
import { isCount, rejectUnknown } from './core/options';
import { CRITERIA } from './core/slo';
import type { AdapterLike, ConnectionReport, SinkHooks, Summary, Transport, WireData } from './core/types';
import { observeResponse, requestFailed } from './transports/fetch';
import { observeWebSocket } from './transports/websocket';

export interface MonitorOptions extends Omit<RecorderOptions, 'clock' | 'timeOrigin' | 'sink'> {
  /** Query parameters whose values are redacted from reported URLs (`auth*` matches a prefix). */
  redact?: readonly string[];
  /** Where reports and spans go besides `onTurn`, e.g. `otel()` from `earshot/otel`. */
  sink?: Sink;
}

/** A telemetry sink: the hooks of `SinkHooks`, and the monitor it serves, given once by `createMonitor`. */
export interface Sink extends SinkHooks {
  attach?: (monitor: Monitor) => void;
}

/**
 * A connection over a transport earshot does not wrap itself (e.g. a WebRTC data channel): the
 * transport code reports each message, and the connection's adapter turns them into turns.
 */
export interface ObservedConnection {
  readonly id: string;
  /** W3C traceparent of the connection's span, when a sink traces. */
  readonly traceparent: string | undefined;
  /** The app sends `data` (at `at`, default now): returns the turn it starts, if it starts one. */
  sent(data: WireData, at?: number): ManualTurn | undefined;
  /** A message arrived. */
  received(data: WireData, at?: number): void;
  /**
   * A message reaches the app's code now (call it right before that code, e.g. in the app's
   * listener): stamped now, and recorded when `settle()` is called once that code returns, or
   * before, when anything reads the monitor's turns; so that earshot's own work is not between its
   * stamp and the app's.
   */
  arriving(data: WireData): void;
  /** Record the message `arriving` stamped, if it waits. */
  settle(): void;
  /** The connection ended; a turn still open ends with it. */
  close(outcome: ConnectionReport['outcome'], at?: number, reason?: string, code?: number): void;
}

export interface TransportOptions {
  /** How messages map to turns; see `adapters`. */
  adapter?: AdapterLike;
}

/** A turn the app drives itself, e.g. a voice turn or a transport earshot does not wrap. */
export interface ManualTurn {
  /** Undefined until the turn starts. */
  readonly id: string | undefined;
  /** W3C traceparent of the turn's span once it starts, when a sink traces: for the app's own messages. */
  readonly traceparent: string | undefined;
  /** The request left now: t0. Calling anything else first starts the turn implicitly. */
  start(): ManualTurn;
  /** Any byte of the reply arrived (sets TTFB). */
  byte(): void;
  /** A content chunk arrived, with its token count (estimated as 1 when omitted) and audio ms. */
  content(tokens?: number, audioMs?: number): void;
  /** The server's count of output tokens for the whole turn. */
  usage(tokens: number): void;
  /** The first audible sample was heard at `at` (performance.now, output latency included). */
  audioHeard(at?: number): void;
  /** The reply's first text was shown to the reader at `at` (e.g. by `earshot/text`'s `onFirstDisplay`). */
  displayed(at?: number): void;
  /**
   * The app's verdict on the result, before the turn's report goes out: a bad one spends budget of
   * `category` ('quality' by default, or 'configuration'); `reason` becomes the turn's reason unless it has one.
   */
  quality(good: boolean, reason?: string, category?: 'quality' | 'configuration'): void;
  /** A player will call `audioHeard`: the turn's report waits for it (at most 3 s after the turn ends). */
  awaitAudio(): void;
  end(): void;
  fail(error?: unknown): void;
  abandon(reason?: string): void;
}

export interface Monitor {
  /** A real WebSocket, observed. */
  websocket(url: string | URL, protocols?: string | string[], options?: TransportOptions): WebSocket;
  /** A real fetch whose Response body is observed as the app reads it. */
  fetch(input: RequestInfo | URL, init?: RequestInit, options?: TransportOptions): Promise<Response>;
  /** A manual turn. */
  turn(): ManualTurn;
  /** A connection over a transport the app (or an earshot module such as `earshot/webrtc`) reports itself. */
  connection(transport: Transport, url?: string, options?: TransportOptions): ObservedConnection;
  /** The open turn whose content chunk arrived last: from a message handler, the turn that delivered it. */
  activeTurn(): ManualTurn | undefined;
  /** Aggregates over every turn and connection so far. */
  summary(): Summary;
  /** The peak of active connections since the last call (for an exporter's interval). */
  takePeak(): number;
  /** Instrument `fetch` and `WebSocket` on the global object; returns the undo. */
  patchGlobals(options?: TransportOptions): () => void;
  /** Errors inside earshot that were caught (never thrown into the app). */
  readonly internalErrors: number;
}

const OPTION_NAMES = ['slo', 'stallMs', 'chunkTimes', 'deadlineMs', 'onTurn', 'onConnection', 'onError', 'redact', 'sink'];
/** An `slo` may be a definition from `earshot/slo`, with the fields only it uses. */
const SLO_NAMES = [...CRITERIA, 'objective', 'windows', 'minEvents', 'name', 'description', 'windowMs', 'dropRate'];

/** Reject options that would silently measure nothing, naming the option. */
function validate(options: MonitorOptions): void {
  const slo = options.slo ?? {};
  rejectUnknown(options, OPTION_NAMES);
  rejectUnknown(slo, SLO_NAMES, 'earshot: slo');
  const check = (name: string, value: unknown, below = Infinity) => {
    if (value !== undefined && !isCount(value, below)) {
      throw new RangeError(`earshot: ${name} must be a number in [0, ${below}) (got ${String(value)})`);
    }
  };
  for (const key of ['stallMs', 'chunkTimes', 'deadlineMs'] as const) check(key, options[key]);
  check('slo.objective', slo.objective, 1);
  for (const key of CRITERIA) check('slo.' + key, slo[key]);
}

export function createMonitor(options: MonitorOptions = {}): Monitor {
  validate(options);
  // A test harness in the page (`earshot/playwright`) listens in: it returns the options with its own
  // `onTurn` and `sink.attach` wrapped around the app's.
  options = (globalThis as { [key: symbol]: (o: MonitorOptions) => MonitorOptions })[Symbol.for('earshot')]?.(options) ?? options;
  const recorder = new Recorder(options);
  // Unset, redactUrl redacts SECRET_PARAMS.
  const secrets = options.redact;
  const connect = (transport: Transport, url: string | undefined, transportOptions?: TransportOptions) => {
    const c = recorder.connection(transport, url && redactUrl(url, secrets));
    c._adapter = toAdapter(transportOptions?.adapter);
    return c;
  };
  // The transports earshot wraps: the globals as they were before `patchGlobals`, read lazily so a
  // fetch stubbed after `createMonitor` is the one used.
  let baseFetch: typeof fetch | undefined;
  let BaseWebSocket: typeof WebSocket | undefined;
  let unpatch: (() => void) | undefined;

  /**
   * Open a WebSocket as `new Native(url, protocols)` with `newTarget` as new.target (a subclass of a
   * patched WebSocket), its URL or protocols carrying the connection's trace context.
   */
  const openWebSocket = (
    Native: typeof WebSocket,
    newTarget: Function,
    url: string | URL,
    protocols: string | string[] | undefined,
    transportOptions?: TransportOptions,
  ) => {
    // Protocols left out stay out, as the app called it.
    const given = protocols === undefined ? [] : [protocols];
    const connection = recorder._guard(() => connect('websocket', String(url), transportOptions));
    const traceparent = connection?.traceparent;
    const carried = traceparent && recorder._hook('websocket', String(url), given.flat(), traceparent);
    let ws: WebSocket;
    try {
      ws = Reflect.construct(Native, carried || [url, ...given], newTarget);
    } catch (error) {
      // The app's own mistake (a bad URL or protocol): no connection was opened.
      connection?.close('abandoned', recorder.now(), String(error));
      throw error;
    }
    if (connection) recorder._guard(() => observeWebSocket(ws, connection));
    return ws;
  };

  const monitor: Monitor = {
    get internalErrors() {
      return recorder._errors;
    },

    websocket(url, protocols, transportOptions) {
      const Native = BaseWebSocket ?? WebSocket;
      return openWebSocket(Native, Native, url, protocols, transportOptions);
    },

    async fetch(input, init, transportOptions) {
      const base = baseFetch ?? fetch;
      const t0 = recorder.now();
      const request = input instanceof Request ? input : undefined;
      const url = request?.url ?? String(input);
      const turn = recorder._guard(() => connect('fetch', url).startTurn(t0));
      const traceparent = turn?.traceparent;
      const carried = traceparent && recorder._hook('headers', url, traceparent);
      if (carried) {
        const headers = new Headers(init?.headers ?? request?.headers);
        for (const name in carried) headers.set(name, carried[name]!);
        init = { ...init, headers };
      }
      const signal = init?.signal ?? request?.signal;
      let response: Response;
      try {
        response = await base(input, init);
      } catch (error) {
        recorder._guard(() => turn && requestFailed(turn._connection, signal, error));
        throw error;
      }
      if (!turn) return response;
      recorder._hook('response', turn.id!, response.headers);
      return recorder._guard(() => observeResponse(response, turn._connection, signal, transportOptions?.adapter)) ?? response;
    },

    turn: () => new TurnRecord(recorder.manual),
    connection: connect,
    activeTurn() {
      recorder._settle();
      return recorder._lastContent?._ended ? undefined : recorder._lastContent;
    },
    summary: () => recorder.summary(),
    takePeak: () => recorder.takePeak(),

    patchGlobals(transportOptions) {
      // Patching twice would make the second patch wrap the first: keep the one in place.
      if (unpatch) return unpatch;
      const g = globalThis;
      const previousFetch = (baseFetch = g.fetch);
      const PreviousWebSocket = (BaseWebSocket = g.WebSocket);
      const patchedFetch: typeof fetch = (input, init) => monitor.fetch(input, init, transportOptions);
      g.fetch = patchedFetch;
      // A Proxy keeps `instanceof WebSocket`, the static constants and subclassing working.
      const PatchedWebSocket: typeof WebSocket | undefined =
        PreviousWebSocket &&
        new Proxy(PreviousWebSocket, {
          construct: (target, [url, protocols]: [string | URL, (string | string[])?], newTarget) =>
            openWebSocket(target, newTarget === PatchedWebSocket ? target : newTarget, url, protocols, transportOptions),
        });
      // Where there is no WebSocket (Node before 22), only fetch is patched.
      if (PatchedWebSocket) g.WebSocket = PatchedWebSocket;
      return (unpatch = () => {
        if (g.fetch === patchedFetch) g.fetch = previousFetch;
        if (g.WebSocket === PatchedWebSocket) g.WebSocket = PreviousWebSocket;
        baseFetch = BaseWebSocket = unpatch = undefined;
      });
    },
  };

  // Turns still open when the page goes away were abandoned by the user, not dropped. Registered
  // before the sink attaches, so a sink flushing on `pagehide` sends those turns too.
  globalThis.addEventListener?.('pagehide', () => recorder.abandonAll('page unload'));
  recorder._guard(() => options.sink?.attach?.(monitor));
  return monitor;
}
