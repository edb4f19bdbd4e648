import { adapters, toAdapter } from './adapters';
import { Recorder, type RecorderOptions, type TurnRecord } from './core/recorder';
import { redactUrl, SECRET_PARAMS } from './core/redact';
import type { AdapterLike, SloCriterion, Summary } from './core/types';
import { describe, observeBody } from './transports/fetch';
import { StreamObserver } from './transports/observer';
import { observeWebSocket } from './transports/websocket';

export interface MonitorOptions extends Omit<RecorderOptions, 'now' | 'timeOrigin'> {
  /** Query parameters whose values are redacted from reported URLs (`auth*` matches a prefix). */
  redact?: readonly string[];
}

export interface TransportOptions {
  /** How messages map to turns; see `adapters`. */
  adapter?: AdapterLike;
}

/** A turn the app drives itself, e.g. a voice turn or a transport earshot does not wrap. */
export interface ManualTurn {
  /** Undefined until the turn starts. */
  readonly id: string | undefined;
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
  /** Aggregates over every turn and connection so far. */
  summary(): Summary;
  /** The peak of active connections since the last call (for an exporter's interval). */
  takePeak(): number;
  /** Instrument `fetch` and `WebSocket` on the global object; returns the undo. */
  patchGlobals(options?: TransportOptions): () => void;
  /** Errors inside earshot that were caught (never thrown into the app). */
  readonly internalErrors: number;
  readonly recorder: Recorder;
}

const OPTION_NAMES = ['slo', 'stallMs', 'chunkTimes', 'onTurn', 'onConnection', 'onError', 'redact'];
const SLO_BOUNDS: SloCriterion[] = ['ttftMs', 'ttfaMs', 'tpotMs', 'e2eMs', 'maxGapMs'];

/** Reject options that would silently measure nothing, naming the option. */
function validate(options: MonitorOptions): void {
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.includes(key)) throw new TypeError(`earshot: unknown option "${key}"`);
  }
  const slo = options.slo ?? {};
  for (const key of SLO_BOUNDS) {
    const v = slo[key];
    if (v !== undefined && !(typeof v === 'number' && v >= 0)) {
      throw new RangeError(`earshot: slo.${key} must be a number >= 0 (got ${String(v)})`);
    }
  }
  const objective = slo.objective;
  if (objective !== undefined && !(objective > 0 && objective < 1)) {
    throw new RangeError(`earshot: slo.objective must be between 0 and 1 (got ${String(objective)})`);
  }
  for (const key of ['stallMs', 'chunkTimes'] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === 'number' && v >= 0)) {
      throw new RangeError(`earshot: ${key} must be a number >= 0 (got ${String(v)})`);
    }
  }
}

function urlOf(input: RequestInfo | URL): string {
  return typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
}

function defaultBodyAdapter(contentType: string | null): AdapterLike {
  const type = contentType ?? '';
  if (type.includes('text/event-stream')) return adapters.sse();
  if (type.includes('ndjson') || type.includes('jsonl')) return adapters.ndjson();
  return adapters.raw();
}

export function createMonitor(options: MonitorOptions = {}): Monitor {
  validate(options);
  const now = () => performance.now();
  const recorder = new Recorder({ ...options, now });
  const secrets = options.redact ?? SECRET_PARAMS;
  let internalErrors = 0;
  const onInternalError = (error: unknown) => {
    internalErrors++;
    try {
      options.onError?.(error);
    } catch {
      // The app's error callback failing must not turn into an exception in its event handlers.
    }
  };
  /** Run earshot's own work so that a failure in it is counted, never thrown into the app. */
  const guard = <T>(work: () => T): T | undefined => {
    try {
      return work();
    } catch (error) {
      onInternalError(error);
      return undefined;
    }
  };
  // The transports earshot wraps: the globals as they were before `patchGlobals`, read lazily so a
  // fetch stubbed after `createMonitor` is the one used.
  let baseFetch: typeof fetch | undefined;
  let BaseWebSocket: typeof WebSocket | undefined;

  const instrumentWebSocket = (ws: WebSocket, url: string | URL, transportOptions?: TransportOptions) => {
    guard(() => {
      const connection = recorder.connection('websocket', redactUrl(String(url), secrets));
      const adapter = toAdapter(transportOptions?.adapter ?? adapters.raw());
      observeWebSocket(ws, new StreamObserver(connection, adapter, onInternalError), now);
    });
    return ws;
  };

  const monitor: Monitor = {
    recorder,
    get internalErrors() {
      return internalErrors;
    },

    websocket(url, protocols, transportOptions) {
      const Native = BaseWebSocket ?? WebSocket;
      return instrumentWebSocket(new Native(url, protocols), url, transportOptions);
    },

    async fetch(input, init, transportOptions) {
      const base = baseFetch ?? fetch;
      const t0 = now();
      const connection = guard(() => {
        const c = recorder.connection('fetch', redactUrl(urlOf(input), secrets));
        c.startTurn(t0);
        return c;
      });
      const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
      let response: Response;
      try {
        response = await base(input, init);
      } catch (error) {
        guard(() => connection?.close(signal?.aborted ? 'abandoned' : 'dropped', now(), describe(error)));
        throw error;
      }
      if (!connection) return response;
      return (
        guard(() => {
          const t = now();
          const turn = connection.current;
          turn?.byte(t);
          const body = response.body;
          if (!response.ok || !body) {
            if (!response.ok) turn?.finish('error', t, `HTTP ${response.status}`);
            connection.close('clean', t);
            return response;
          }
          const adapter = transportOptions?.adapter ?? defaultBodyAdapter(response.headers.get('content-type'));
          const stream = new StreamObserver(connection, toAdapter(adapter), onInternalError);
          return observeBody(response, body, stream, signal ?? undefined, now);
        }) ?? response
      );
    },

    turn() {
      let record: TurnRecord | undefined;
      const started = () => (record ??= recorder.manual.startTurn(now()));
      const turn: ManualTurn = {
        get id() {
          return record?.id;
        },
        start() {
          started();
          return turn;
        },
        byte: () => started().byte(now()),
        content: (tokens, audioMs) => started().content(now(), tokens, audioMs),
        usage: (tokens) => started().usage(tokens),
        audioHeard: (at) => started().audioHeard(at ?? now()),
        end: () => started().finish('complete', now()),
        fail: (error) => started().finish('error', now(), error === undefined ? 'error' : describe(error)),
        abandon: (reason) => started().finish('abandoned', now(), reason ?? 'abandoned by the app'),
      };
      return turn;
    },

    summary: () => recorder.summary(),
    takePeak: () => recorder.takePeak(),

    patchGlobals(transportOptions) {
      const g = globalThis;
      const previousFetch = g.fetch;
      const PreviousWebSocket = g.WebSocket;
      baseFetch = previousFetch;
      BaseWebSocket = PreviousWebSocket;
      const patchedFetch: typeof fetch = (input, init) => monitor.fetch(input, init, transportOptions);
      g.fetch = patchedFetch;
      // A Proxy keeps `instanceof WebSocket`, the static constants and subclassing working.
      const PatchedWebSocket = new Proxy(PreviousWebSocket, {
        construct(target, args: [string | URL, (string | string[])?], newTarget) {
          const ws = Reflect.construct(target, args, newTarget === PatchedWebSocket ? target : newTarget) as WebSocket;
          return instrumentWebSocket(ws, args[0], transportOptions);
        },
      });
      g.WebSocket = PatchedWebSocket;
      return () => {
        if (g.fetch === patchedFetch) g.fetch = previousFetch;
        if (g.WebSocket === PatchedWebSocket) g.WebSocket = PreviousWebSocket;
        baseFetch = undefined;
        BaseWebSocket = undefined;
      };
    },
  };

  // Turns still open when the page goes away were abandoned by the user, not dropped.
  if (typeof addEventListener === 'function') {
    addEventListener('pagehide', () => recorder.abandonAll('page unload'));
  }
  return monitor;
}
