/**
 * Test page: an app that streams over WebSocket or fetch, natively or through earshot, and keeps its
 * own ground truth. The app stamps `performance.now()` in its own handlers (its first message
 * listener on the very socket earshot observes; right after each `read()` of the body it consumes),
 * so both sides see the same events and any difference is earshot's.
 *
 * Served transpiled by e2e/server.ts; specs call `window.harness` through `page.evaluate`.
 */
import type { SloOptions, Summary, TurnReport } from '../../src/core/types';
import type * as Earshot from '../../src/index';

const dist = new URLSearchParams(location.search).get('dist') ?? '/dist/earshot.js';

/** The built SDK. A rebuild empties dist/ for several seconds, so a failed load is retried for up to 20 s. */
async function load(): Promise<typeof Earshot> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await import(`${dist}?attempt=${attempt}`)) as typeof Earshot;
    } catch (error) {
      if (attempt === 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
const earshot = await load();

export type AdapterName = 'raw' | 'sse' | 'ndjson' | 'openaiRealtime';

/**
 * Which received messages the app itself treats as content: every message / body read, or the
 * events of one wire format that carry output text or audio.
 */
export type ContentRule = 'every' | 'sse-openai' | 'sse-anthropic' | 'sse-data' | 'ndjson' | 'openai-realtime';

export interface HarnessMonitorOptions {
  slo?: SloOptions;
  stallMs?: number;
  chunkTimes?: number;
  /** Also send each turn report to the server's /beacon?id=..., so reports made on unload are seen. */
  beaconId?: string;
}

/** One app-visible event, as the app's handlers saw it. */
export interface AppEvent {
  via: 'listener' | 'property' | 'call';
  type: string;
  /** Message data, close code/reason/wasClean, or the name of an exception a call threw. */
  detail: string;
  readyState: number;
  trusted: boolean;
}

export interface WsRunOptions {
  url: string;
  protocols?: string | string[];
  /** Open the socket with `monitor.websocket` (true) or `new WebSocket` (false). */
  instrument: boolean;
  adapter?: AdapterName;
  content?: ContentRule;
  binaryType?: BinaryType;
  /**
   * One message per turn; the app sends the next once `expect` content messages of this one arrived
   * (and, with `awaitText`, a message containing that text, e.g. a terminal event).
   */
  turns: Array<{ send: string; expect: number; awaitText?: string }>;
  /** After the last turn: wait for the server to close, or close from the app. */
  finish: 'server' | 'app';
  /** Call send() while the socket is still connecting (it throws InvalidStateError natively). */
  sendWhileConnecting?: boolean;
  /** The app's `onmessage` and its own message listener throw on every message. */
  throwing?: boolean;
  /** Turn reports to wait for (default: one per turn when instrumented). */
  reports?: number;
  timeoutMs?: number;
}

export interface WsRunResult {
  /** performance.now() stamped by the app immediately before each send(). */
  t0: number[];
  /** performance.now() of each content message, per turn, stamped by the app's first listener. */
  content: number[][];
  events: AppEvent[];
  props: { isWebSocket: boolean; url: string; protocol: string; extensions: string; binaryType: string };
  turns: TurnReport[];
  timedOut: boolean;
}

export interface FetchRunOptions {
  url: string;
  init?: { method?: string; headers?: Record<string, string>; body?: string };
  instrument: boolean;
  adapter?: AdapterName;
  content?: ContentRule;
  /** How the app consumes the body. */
  read: 'reader' | 'iterate' | 'text' | 'json' | 'clone' | 'none';
  /** reader.cancel() once this many content messages arrived. */
  cancelAfter?: number;
  /** AbortController.abort() once this many content messages arrived (0: before the response). */
  abortAfter?: number;
  reports?: number;
  timeoutMs?: number;
}

export interface ResponseShape {
  isResponse: boolean;
  status: number;
  statusText: string;
  ok: boolean;
  url: string;
  type: string;
  redirected: boolean;
  headers: Array<[string, string]>;
  bodyIsStream: boolean;
  bodyUsed: boolean;
  /** What `headers.set()` does: a fetched Response's headers are immutable. */
  headerSet: string;
}

export interface FetchRunResult {
  /** performance.now() stamped by the app immediately before fetch(). */
  t0: number;
  /** performance.now() of each content message, stamped right after the read() that delivered it. */
  content: number[];
  /** read() calls that returned data. */
  reads: number;
  /** The body as the app decoded it. */
  text: string;
  json?: unknown;
  shape?: ResponseShape;
  /** The shape of `clone()` (read: 'clone'). */
  cloneShape?: ResponseShape;
  /** `name: message` of what the app caught, if anything. */
  error?: string;
  /** What a read() after cancel() returned. */
  afterCancel?: string;
  bodyUsedAfter?: boolean;
  turns: TurnReport[];
  timedOut: boolean;
}

export interface Harness {
  ready: true;
  crossOriginIsolated: boolean;
  /** Start a fresh monitor (and a fresh list of its turn reports). */
  newMonitor(options?: HarnessMonitorOptions): void;
  summary(): Summary;
  internalErrors(): number;
  ws(options: WsRunOptions): Promise<WsRunResult>;
  listeners(url: string, send: string, instrument: boolean): Promise<{ seen: string[]; chunks?: number }>;
  fetch(options: FetchRunOptions): Promise<FetchRunResult>;
}

declare global {
  interface Window {
    harness: Harness;
    Earshot?: typeof Earshot;
  }
}

// ---------------------------------------------------------------------------------------------
// Waiting on events without polling, so no timer of ours runs between the messages being timed.

interface Pending {
  cond: () => boolean;
  done: (met: boolean) => void;
}
const pending = new Set<Pending>();

function poke(): void {
  for (const p of pending) if (p.cond()) p.done(true);
}

function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  if (cond()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const p: Pending = {
      cond,
      done: (met) => {
        pending.delete(p);
        clearTimeout(timer);
        resolve(met);
      },
    };
    const timer = setTimeout(() => p.done(false), timeoutMs);
    pending.add(p);
  });
}

// ---------------------------------------------------------------------------------------------
// The monitor under test.

let monitor: Earshot.Monitor | undefined;
let reports: TurnReport[] = [];

function newMonitor({ beaconId, ...options }: HarnessMonitorOptions = {}): Earshot.Monitor {
  const mine: TurnReport[] = [];
  reports = mine;
  monitor = earshot.createMonitor({
    chunkTimes: 10000,
    ...options,
    onTurn: (turn) => {
      mine.push(turn);
      if (beaconId) {
        const { outcome, reason, transport, chunks } = turn;
        navigator.sendBeacon(`/beacon?id=${beaconId}`, JSON.stringify({ outcome, reason, transport, chunks }));
      }
      poke();
    },
  });
  return monitor;
}

function transportOptions(adapter: AdapterName | undefined): Earshot.TransportOptions | undefined {
  return adapter ? { adapter: earshot.adapters[adapter]() } : undefined;
}

async function settle(before: number, expected: number, timeoutMs: number): Promise<TurnReport[]> {
  const list = reports;
  await until(() => list.length - before >= expected, timeoutMs);
  return list.slice(before);
}

// ---------------------------------------------------------------------------------------------
// What the app counts as content.

const REALTIME_DELTAS = new Set([
  'response.text.delta',
  'response.output_text.delta',
  'response.audio.delta',
  'response.output_audio.delta',
  'response.audio_transcript.delta',
  'response.output_audio_transcript.delta',
]);

function parse(s: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function nonEmpty(v: unknown): boolean {
  return typeof v === 'string' && v !== '';
}

/** Whether one message (a WebSocket message, an SSE event's data, an NDJSON line) is content. */
function isContent(rule: ContentRule, data: unknown, event?: string): boolean {
  if (rule === 'every') return true;
  if (typeof data !== 'string') return false;
  switch (rule) {
    case 'sse-data':
      return data !== '[DONE]';
    case 'sse-openai': {
      const choices = parse(data)?.choices;
      const delta = Array.isArray(choices) ? (choices[0] as { delta?: { content?: unknown } } | undefined)?.delta : undefined;
      return nonEmpty(delta?.content);
    }
    case 'sse-anthropic': {
      const msg = parse(data);
      const delta = msg?.delta as { text?: unknown } | undefined;
      return (event ?? msg?.type) === 'content_block_delta' && nonEmpty(delta?.text);
    }
    case 'ndjson': {
      const msg = parse(data);
      const message = msg?.message as { content?: unknown } | undefined;
      return nonEmpty(message?.content) || nonEmpty(msg?.response) || nonEmpty(msg?.text);
    }
    case 'openai-realtime': {
      const type = parse(data)?.type;
      return typeof type === 'string' && REALTIME_DELTAS.has(type);
    }
  }
}

/** Splits decoded body text into messages as they complete; returns how many were content. */
function bodyParser(rule: ContentRule): (text: string) => number {
  if (rule === 'every') return () => 1;
  let buffer = '';
  const sse = rule.startsWith('sse-');
  const separator = sse ? '\n\n' : '\n';
  return (text) => {
    buffer += text;
    let count = 0;
    let at: number;
    while ((at = buffer.indexOf(separator)) >= 0) {
      const block = buffer.slice(0, at);
      buffer = buffer.slice(at + separator.length);
      if (!sse) {
        if (block && isContent(rule, block)) count++;
        continue;
      }
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      }
      if (data.length && isContent(rule, data.join('\n'), event)) count++;
    }
    return count;
  };
}

// ---------------------------------------------------------------------------------------------
// WebSocket app.

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes.subarray(0, 16)) s += b.toString(16).padStart(2, '0');
  return s;
}

function describeData(data: unknown): string {
  if (typeof data === 'string') return `text:${data}`;
  if (data instanceof ArrayBuffer) return `arraybuffer:${data.byteLength}:${hex(new Uint8Array(data))}`;
  if (data instanceof Blob) return `blob:${data.size}:${data.type}`;
  return `other:${Object.prototype.toString.call(data)}`;
}

function describeError(error: unknown): string {
  return error instanceof Error || error instanceof DOMException ? `${error.name}: ${error.message}` : String(error);
}

async function runWebSocket(o: WsRunOptions): Promise<WsRunResult> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const rule = o.content ?? 'every';
  const before = reports.length;
  const m = o.instrument ? (monitor ?? newMonitor()) : undefined;
  const ws = m ? m.websocket(o.url, o.protocols, transportOptions(o.adapter)) : new WebSocket(o.url, o.protocols);
  if (o.binaryType) ws.binaryType = o.binaryType;

  const t0: number[] = [];
  const content: number[][] = o.turns.map(() => []);
  const awaited: boolean[] = o.turns.map((plan) => plan.awaitText === undefined);
  const events: AppEvent[] = [];
  const blobs = new Map<number, Blob>();
  let turn = -1;
  let closed = false;
  let messages = 0;

  // Ground truth first: the app's earliest listener on the socket earshot observes.
  ws.addEventListener('message', (e) => {
    const t = performance.now();
    if (turn >= 0) {
      if (isContent(rule, e.data)) content[turn].push(t);
      const text = o.turns[turn].awaitText;
      if (text !== undefined && typeof e.data === 'string' && e.data.includes(text)) awaited[turn] = true;
    }
    poke();
  });

  const record = (via: AppEvent['via'], e: Event): void => {
    let detail = '';
    if (e instanceof MessageEvent) {
      detail = describeData(e.data);
      if (e.data instanceof Blob) blobs.set(events.length, e.data);
    } else if (e instanceof CloseEvent) detail = `${e.code} ${JSON.stringify(e.reason)} ${e.wasClean}`;
    events.push({ via, type: e.type, detail, readyState: ws.readyState, trusted: e.isTrusted });
  };
  const fail = (via: string): never => {
    throw new Error(`app ${via} handler failed on message ${messages}`);
  };
  for (const type of ['open', 'message', 'error', 'close']) {
    ws.addEventListener(type, (e) => {
      record('listener', e);
      poke();
      if (type === 'message' && o.throwing) fail('listener');
    });
  }
  ws.onopen = (e) => record('property', e);
  ws.onerror = (e) => record('property', e);
  // The last handler of the close event: the session is over once it has run.
  ws.onclose = (e) => {
    record('property', e);
    closed = true;
    poke();
  };
  ws.onmessage = (e) => {
    messages++;
    record('property', e);
    if (o.throwing) fail('onmessage');
  };
  const call = (type: string, work: () => void): void => {
    try {
      work();
      events.push({ via: 'call', type, detail: 'ok', readyState: ws.readyState, trusted: true });
    } catch (error) {
      events.push({ via: 'call', type, detail: describeError(error), readyState: ws.readyState, trusted: true });
    }
  };
  const props = {
    isWebSocket: ws instanceof WebSocket,
    url: ws.url,
    protocol: '',
    extensions: '',
    binaryType: ws.binaryType,
  };
  if (o.sendWhileConnecting) call('send', () => ws.send('too early'));

  const waits: boolean[] = [await until(() => ws.readyState !== WebSocket.CONNECTING, timeoutMs)];
  props.protocol = ws.protocol;
  props.extensions = ws.extensions;
  for (let i = 0; i < o.turns.length && ws.readyState === WebSocket.OPEN; i++) {
    const plan = o.turns[i];
    turn = i;
    t0.push(performance.now());
    ws.send(plan.send);
    waits.push(await until(() => (content[i].length >= plan.expect && awaited[i]) || closed, timeoutMs));
  }
  if (o.finish === 'app' && !closed) call('close', () => ws.close(1000, 'app done'));
  waits.push(await until(() => closed, timeoutMs));
  const timedOut = waits.includes(false);

  for (const [index, blob] of blobs) {
    events[index].detail += `:${hex(new Uint8Array(await blob.arrayBuffer()))}`;
  }
  const expected = o.reports ?? (o.instrument ? o.turns.length : 0);
  const turns = await settle(before, expected, 2000);
  return { t0, content, events, props, turns, timedOut };
}

// ---------------------------------------------------------------------------------------------
// fetch app.

function shapeOf(res: Response): ResponseShape {
  let headerSet = 'ok';
  try {
    res.headers.set('x-probe', '1');
  } catch (error) {
    headerSet = describeError(error);
  }
  return {
    isResponse: res instanceof Response,
    status: res.status,
    statusText: res.statusText,
    ok: res.ok,
    url: res.url,
    type: res.type,
    redirected: res.redirected,
    headers: [...res.headers].filter(([k]) => k !== 'date' && k !== 'keep-alive' && k !== 'x-probe').sort(),
    bodyIsStream: res.body instanceof ReadableStream,
    bodyUsed: res.bodyUsed,
    headerSet,
  };
}

async function runFetch(o: FetchRunOptions): Promise<FetchRunResult> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const rule = o.content ?? 'every';
  const before = reports.length;
  const m = o.instrument ? (monitor ?? newMonitor()) : undefined;
  const controller = new AbortController();
  const init: RequestInit = { ...o.init, signal: controller.signal };
  const result: FetchRunResult = { t0: 0, content: [], reads: 0, text: '', turns: [], timedOut: false };
  const parser = bodyParser(rule);
  const decoder = new TextDecoder();

  // One body chunk as the app handles it: time first, then decode and find content.
  const take = (chunk: Uint8Array, t: number): boolean => {
    result.reads++;
    const text = decoder.decode(chunk, { stream: true });
    result.text += text;
    for (let n = parser(text); n > 0; n--) result.content.push(t);
    if (o.abortAfter !== undefined && result.content.length >= o.abortAfter) controller.abort();
    return o.cancelAfter !== undefined && result.content.length >= o.cancelAfter;
  };

  const work = async (): Promise<void> => {
    if (o.abortAfter === 0) controller.abort();
    result.t0 = performance.now();
    const res = await (m ? m.fetch(o.url, init, transportOptions(o.adapter)) : fetch(o.url, init));
    result.shape = shapeOf(res);
    switch (o.read) {
      case 'reader': {
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        for (;;) {
          const r = await reader.read();
          const t = performance.now();
          if (r.done) break;
          if (take(r.value, t)) {
            await reader.cancel('cancelled by the app');
            const after = await reader.read();
            result.afterCancel = `done=${after.done}`;
            break;
          }
        }
        break;
      }
      case 'iterate':
        // Async iteration of ReadableStream is in Chromium but not in TypeScript's DOM typings.
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          if (take(chunk, performance.now())) break;
        }
        break;
      case 'text':
        result.text = await res.text();
        break;
      case 'json':
        result.json = await res.json();
        break;
      case 'clone': {
        const copy = res.clone();
        result.cloneShape = shapeOf(copy);
        const [a, b] = await Promise.all([res.text(), copy.text()]);
        result.text = a === b ? a : `clone differs: ${JSON.stringify([a, b])}`;
        break;
      }
      case 'none':
        break;
    }
    result.bodyUsedAfter = res.bodyUsed;
  };

  let finished = false;
  work().then(
    () => (finished = true),
    (error: unknown) => {
      result.error = describeError(error);
      finished = true;
    },
  ).finally(poke);
  result.timedOut = !(await until(() => finished, timeoutMs));
  const expected = o.reports ?? (o.instrument ? 1 : 0);
  result.turns = await settle(before, expected, 2000);
  return result;
}

/**
 * The app's message listeners as earshot wraps them: a function added twice, a `handleEvent`
 * object, `onmessage` (read back, `this`), then, after the first message, the function removed and
 * `onmessage` cleared. Returns what each listener saw and, through earshot, the turn's chunk count.
 */
async function runListeners(url: string, send: string, instrument: boolean): Promise<{ seen: string[]; chunks?: number }> {
  const before = reports.length;
  const m = instrument ? (monitor ?? newMonitor()) : undefined;
  const ws = m ? m.websocket(url) : new WebSocket(url);
  const seen: string[] = [];
  const fn = (e: MessageEvent) => seen.push(`function ${e.data}`);
  const object = { handleEvent: (e: MessageEvent) => seen.push(`object ${e.data}`) };
  function handler(this: WebSocket, e: MessageEvent) {
    seen.push(`onmessage this=${this === ws} ${e.data}`);
    ws.removeEventListener('message', fn);
    ws.onmessage = null;
    seen.push(`onmessage after clearing: ${String(ws.onmessage)}`);
  }
  ws.addEventListener('message', fn);
  ws.addEventListener('message', fn);
  ws.addEventListener('message', object);
  ws.onmessage = handler;
  seen.push(`onmessage reads back: ${ws.onmessage === handler}`);
  ws.onopen = ws.onclose = poke;
  await until(() => ws.readyState === WebSocket.OPEN, 5000);
  ws.send(send);
  await until(() => ws.readyState === WebSocket.CLOSED, 5000);
  const [turn] = instrument ? await settle(before, 1, 2000) : [];
  return { seen, chunks: turn?.chunks };
}

window.harness = {
  ready: true,
  listeners: runListeners,
  crossOriginIsolated,
  newMonitor: (options) => void newMonitor(options),
  summary: () => (monitor ?? newMonitor()).summary(),
  internalErrors: () => monitor?.internalErrors ?? 0,
  ws: runWebSocket,
  fetch: runFetch,
};
