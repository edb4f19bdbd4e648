/**
 * Test page for e2e/faults.spec.ts: an app that streams over WebSocket and fetch, plays PCM through
 * the jitter-buffer player, talks to a WebRTC agent, and exports earshot's telemetry over OTLP, each
 * natively or through earshot, keeping what its own handlers saw. Built by Vite with the shipped
 * entries (earshot, earshot/otel, earshot/jitter-buffer from dist/) in a chunk of their own, so long
 * animation frames can be attributed to earshot's code; served under a strict CSP.
 */
import { adapters, createMonitor, type Monitor, type ObservedConnection } from '../../src/index';
import type { ConnectionReport, Summary, TurnReport } from '../../src/core/types';
import { otel, type OtelSink } from '../../src/otel';
import { createPlayer, type JitterBufferStats, type Player } from '../../src/jitter-buffer';
import { observePeerConnection } from '../../src/webrtc';

export interface Setup {
  /** The row: telemetry goes out as service `faults-<row>`. */
  row: string;
  collector: string;
  exportTimeoutMs?: number;
  exportDelayMs?: number;
  /** Origins that may receive trace context besides the page's. */
  allow?: string[];
  /** The monitor's `deadlineMs`. Default: none. */
  deadlineMs?: number;
}

/** What the app's own handlers saw, in order, and whether it stopped waiting. */
export interface AppView {
  events: string[];
  timedOut: boolean;
}

export type Mode = 'native' | 'earshot' | 'observed';

export interface WsRun {
  url: string;
  /** `new WebSocket`, `monitor.websocket`, or the app's own socket reported to `monitor.connection()`. */
  mode: Mode;
  /** One request per script; each after the reply to the previous one ended (`done`). */
  scripts: Array<Record<string, unknown>>;
  binaryType?: BinaryType;
  /** The app stops waiting for a reply after this long and closes. Default 10 s. */
  giveUpMs?: number;
  /** Binary frames are PCM16 at 24 kHz for a player (with `monitor` when through earshot). */
  play?: boolean;
}

export interface FetchRun {
  url: string;
  mode: Exclude<Mode, 'observed'>;
  /** The app aborts after this many reads of the body. */
  abortAfterReads?: number;
  /** `AbortSignal.timeout(ms)` on the request: the app's own deadline. */
  timeoutMs?: number;
}

export type PlayerScenario = 'nan' | 'odd' | 'dup' | 'storm' | 'resample';

export interface PlayerResult {
  pushes: number;
  /** Audio frames pushed (input rate). */
  frames: number;
  stats?: JitterBufferStats;
  events: string[];
  /** Offline: output samples that are not finite, and that are not silent. */
  nonFinite?: number;
  nonSilent?: number;
  /** Live: the manual turn the player reported the heard time to. */
  turn?: TurnReport;
  /** ms the pushes took, all in one task. */
  pushMs: number;
}

export interface PageState {
  reports: TurnReport[];
  connections: ConnectionReport[];
  summary: Summary;
  internalErrors: number;
  onErrors: string[];
  dropped: number;
  violations: string[];
}

export interface LoadWindow {
  mode: Exclude<Mode, 'observed'>;
  start: number;
  end: number;
  /** Content messages the app's handler counted, and what the server says it sent. */
  counted: number;
  sent: number;
}

export interface Frame {
  start: number;
  duration: number;
  /** Scripts of the frame that ran 5 ms or more: their source file, what invoked them, and how long each ran. */
  scripts: Array<{ sourceURL: string; invoker: string; duration: number }>;
}

export interface ConfigCase {
  name: string;
  /** What happened at init: `threw <Name>: <message>`, or `accepted`. */
  result: string;
}

interface Session {
  monitor: Monitor;
  sink: OtelSink;
  reports: TurnReport[];
  connections: ConnectionReport[];
  onErrors: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves true once `cond()` holds (checked every 10 ms), false after `timeoutMs`. */
async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) return false;
    await sleep(10);
  }
  return true;
}

/** FNV-1a over the code units or bytes: large payloads are compared by length and hash. */
function hash(data: string | Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ (typeof data === 'string' ? data.charCodeAt(i) : data[i]), 0x01000193);
  return (h >>> 0).toString(16);
}

function describe(data: unknown): string {
  if (typeof data === 'string') return data.length <= 80 ? `text:${data}` : `text:${data.length}:${hash(data)}`;
  if (data instanceof ArrayBuffer) return `arraybuffer:${data.byteLength}:${hash(new Uint8Array(data))}`;
  if (data instanceof Blob) return `blob:${data.size}`;
  return `other:${Object.prototype.toString.call(data)}`;
}

const describeError = (e: unknown) => (e instanceof Error || e instanceof DOMException ? `${e.name}: ${e.message}` : String(e));

// Everything the policy refused, and every long task and long animation frame, from the start.
const violations: string[] = [];
document.addEventListener('securitypolicyviolation', (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
const longTasks: Array<{ start: number; duration: number }> = [];
const frames: Frame[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) longTasks.push({ start: e.startTime, duration: e.duration });
}).observe({ type: 'longtask', buffered: true });
new PerformanceObserver((list) => {
  for (const e of list.getEntries() as Array<PerformanceEntry & { scripts: Frame['scripts'] }>) {
    const scripts = e.scripts.map(({ sourceURL, invoker, duration }) => ({ sourceURL, invoker, duration }));
    frames.push({ start: e.startTime, duration: e.duration, scripts });
  }
}).observe({ type: 'long-animation-frame', buffered: true });

let session: Session | undefined;
const current = () => session ?? fail('setup() first');
function fail(message: string): never {
  throw new Error(message);
}

const wsAdapter = () => adapters.json({ request: ['req'], content: ['delta'], end: ['done'], error: ['error'] });
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function setup(o: Setup): void {
  void session?.sink.shutdown();
  const reports: TurnReport[] = [];
  const connections: ConnectionReport[] = [];
  const onErrors: string[] = [];
  const sink = otel({
    serviceName: `faults-${o.row}`,
    url: o.collector,
    exportTimeoutMs: o.exportTimeoutMs ?? 5000,
    exportDelayMs: o.exportDelayMs ?? 1000,
    // Metrics go out when the spec flushes (and when the page is hidden).
    metricIntervalMs: 600_000,
    // An origin allowed for its WebSockets too: a pattern matches the URL as written (ws: or wss:).
    propagateTraceHeaderCorsUrls: (o.allow ?? []).map((origin) => new RegExp(`^(http|ws)${escape(origin.replace(/^http/, ''))}/`)),
  });
  const monitor = createMonitor({
    sink,
    deadlineMs: o.deadlineMs,
    onTurn: (t) => reports.push(t),
    onConnection: (c) => connections.push(c),
    onError: (e) => onErrors.push(describeError(e)),
  });
  session = { monitor, sink, reports, connections, onErrors };
}

function state(): PageState {
  const s = current();
  return {
    reports: s.reports,
    connections: s.connections,
    summary: s.monitor.summary(),
    internalErrors: s.monitor.internalErrors,
    onErrors: s.onErrors,
    dropped: s.sink.dropped(),
    violations,
  };
}

// ---------------------------------------------------------------------------------------------
// Audio: one live context for the page; the app's player plays PCM16 at 24 kHz.

let live: AudioContext | undefined;
async function liveContext(): Promise<AudioContext> {
  live ??= new AudioContext();
  await live.resume();
  return live;
}

/** Resolves with the player's `stats` event (its turn played out), or undefined after `timeoutMs`. */
function playedOut(player: Player, timeoutMs: number): Promise<JitterBufferStats | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    player.addEventListener('stats', (e) => {
      clearTimeout(timer);
      resolve(e.detail.stats);
    });
  });
}

function record(player: Player, events: string[]): void {
  for (const type of ['playing', 'underrun', 'stats']) player.addEventListener(type, () => events.push(type));
}

// ---------------------------------------------------------------------------------------------
// WebSocket app.

const isDone = (data: unknown) => typeof data === 'string' && data.length < 256 && data.includes('"type":"done"');

async function ws(o: WsRun): Promise<AppView & { player?: JitterBufferStats }> {
  const s = current();
  const events: string[] = [];
  let closed = false;
  let closedByApp = false;
  let done = 0;
  const player = o.play ? await createPlayer(await liveContext(), { sampleRate: 24000, monitor: o.mode === 'earshot' ? s.monitor : undefined }) : undefined;
  const played = player && playedOut(player, 15_000);
  const observed: ObservedConnection | undefined = o.mode === 'observed' ? s.monitor.connection('websocket', o.url, { adapter: wsAdapter() }) : undefined;
  const socket = o.mode === 'earshot' ? s.monitor.websocket(o.url, undefined, { adapter: o.play ? adapters.pcm({ sampleRate: 24000 }) : wsAdapter() }) : new WebSocket(o.url);
  if (o.binaryType) socket.binaryType = o.binaryType;
  socket.onopen = () => events.push('open');
  socket.onerror = () => events.push('error');
  socket.onmessage = (e: MessageEvent) => {
    observed?.received(e.data as string);
    events.push(`message ${describe(e.data)}`);
    if (isDone(e.data)) done++;
    if (player && e.data instanceof ArrayBuffer) player.push(new Uint8Array(e.data));
  };
  socket.onclose = (e) => {
    events.push(`close ${e.code} ${JSON.stringify(e.reason)} ${e.wasClean}`);
    closed = true;
    player?.end();
    observed?.close(closedByApp ? 'abandoned' : e.wasClean && (e.code === 1000 || e.code === 1005) ? 'clean' : 'dropped', undefined, closedByApp ? 'closed by the app' : `close ${e.code}`, e.code);
  };
  await until(() => socket.readyState !== WebSocket.CONNECTING, 5000);
  for (const [i, script] of o.scripts.entries()) {
    if (socket.readyState !== WebSocket.OPEN) break;
    const request = JSON.stringify({ type: 'req', script });
    observed?.sent(request);
    socket.send(request);
    if (!(await until(() => done > i || closed, o.giveUpMs ?? 10_000))) {
      events.push('gave up');
      break;
    }
  }
  if (!closed) {
    closedByApp = true;
    socket.close(1000, 'app done');
  }
  const timedOut = !(await until(() => closed, 5000));
  const stats = await played;
  player?.close();
  return { events, timedOut, player: stats };
}

/** `count` sockets at once, each carrying one `script` turn; returns the most the app held open at once. */
async function concurrent(url: string, count: number, script: Record<string, unknown>): Promise<{ peak: number; done: number }> {
  const s = current();
  let open = 0;
  let peak = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      new Promise<void>((resolve) => {
        // Held from construction to the close event: what earshot counts as an active connection.
        const socket = s.monitor.websocket(`${url}&n=${i}`, undefined, { adapter: wsAdapter() });
        peak = Math.max(peak, ++open);
        socket.onopen = () => socket.send(JSON.stringify({ type: 'req', script }));
        socket.onmessage = (e) => {
          if (isDone(e.data)) {
            done++;
            socket.close(1000, 'app done');
          }
        };
        socket.onclose = () => {
          open--;
          resolve();
        };
      }),
    ),
  );
  return { peak, done };
}

/**
 * 10k content messages a second, through alternating windows: natively and through earshot, one
 * socket and one turn per window. The app's handler only counts, so what a window costs beyond the
 * native ones is earshot's.
 */
async function load(url: string, modes: Array<LoadWindow['mode']>, seconds: number, rate: number): Promise<LoadWindow[]> {
  const s = current();
  const windows: LoadWindow[] = [];
  for (const mode of modes) {
    const socket = mode === 'earshot' ? s.monitor.websocket(url, undefined, { adapter: wsAdapter() }) : new WebSocket(url);
    let counted = 0;
    let sent = -1;
    socket.onmessage = (e: MessageEvent) => {
      const data = e.data as string;
      if (data.startsWith('{"type":"delta"')) counted++;
      else if (isDone(data)) sent = (JSON.parse(data) as { sent: number }).sent;
    };
    await until(() => socket.readyState === WebSocket.OPEN, 5000);
    const start = performance.now();
    socket.send(JSON.stringify({ type: 'req', script: { kind: 'load', rate, seconds } }));
    // A busy machine reads slower than the server sends: the window lasts until all of it is read.
    await until(() => sent >= 0, seconds * 1000 + 60_000);
    windows.push({ mode, start, end: performance.now(), counted, sent });
    socket.close(1000, 'window done');
    await until(() => socket.readyState === WebSocket.CLOSED, 5000);
  }
  return windows;
}

// ---------------------------------------------------------------------------------------------
// fetch app.

async function fetchRun(o: FetchRun): Promise<AppView> {
  const s = current();
  const events: string[] = [];
  const controller = new AbortController();
  const signals = [controller.signal, ...(o.timeoutMs === undefined ? [] : [AbortSignal.timeout(o.timeoutMs)])];
  const init: RequestInit = { signal: AbortSignal.any(signals) };
  let text = '';
  try {
    const res = await (o.mode === 'earshot' ? s.monitor.fetch(o.url, init) : fetch(o.url, init));
    events.push(`response ${res.status} ${res.headers.get('content-type')}`);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    for (let reads = 1; ; reads++) {
      const r = await reader.read();
      if (r.done) break;
      text += decoder.decode(r.value, { stream: true });
      if (reads === o.abortAfterReads) controller.abort();
    }
    text += decoder.decode();
    events.push(`text ${describe(text)}`);
  } catch (error) {
    // What was read before an abort depends on timing; before a network error, it is all there is.
    events.push(`error ${describeError(error)}`, ...(o.abortAfterReads === undefined ? [`text ${describe(text)}`] : []));
  }
  return { events, timedOut: false };
}

// ---------------------------------------------------------------------------------------------
// Player app: chunks as a stream would deliver them, pushed in one task.

interface Push {
  data: Float32Array | Uint8Array;
  seq?: number;
}

/** 20 ms of a 440 Hz sine at 24 kHz, with `spoil` samples replaced. */
function sine(i: number, spoil: (k: number) => number | undefined = () => undefined): Float32Array {
  const out = new Float32Array(480);
  for (let k = 0; k < out.length; k++) out[k] = spoil(k) ?? 0.3 * Math.sin((2 * Math.PI * 440 * (i * 480 + k)) / 24000);
  return out;
}

/** PCM16 bytes of the same sine. */
const pcm16 = (f: Float32Array) => new Uint8Array(Int16Array.from(f, (v) => Math.round(v * 32767)).buffer);

/** The pushes of each scenario, and the rate the app plays them at. */
function pushes(scenario: PlayerScenario): { chunks: Push[]; sampleRate: number } {
  switch (scenario) {
    case 'nan':
      // Three invalid samples per chunk (NaN, +Inf, -Inf); +-1e30 are finite and clamped.
      return {
        sampleRate: 24000,
        chunks: Array.from({ length: 10 }, (_, i) => ({ data: sine(i, (k) => [NaN, Infinity, -Infinity, 1e30, -1e30][k] ?? undefined) })),
      };
    case 'odd': {
      // One PCM16 stream cut at odd byte counts: samples straddle chunks.
      const bytes = new Uint8Array(Array.from({ length: 10 }, (_, i) => [...pcm16(sine(i))]).flat());
      const cuts = [481, 479, 1, 3, 957, 2000, 1, 1, 4677];
      const chunks: Push[] = [];
      let at = 0;
      for (const n of cuts) chunks.push({ data: bytes.slice(at, (at += n)) });
      chunks.push({ data: bytes.slice(at) });
      return { sampleRate: 24000, chunks };
    }
    case 'dup':
      // Sequence numbers 0..9: 3 and 5 arrive twice, 7 after 8.
      return { sampleRate: 24000, chunks: [0, 1, 2, 3, 3, 4, 5, 5, 6, 8, 7, 9].map((seq) => ({ data: sine(seq), seq })) };
    case 'storm':
      // 10,000 chunks of 12 samples (0.5 ms each), all in one task.
      return { sampleRate: 24000, chunks: Array.from({ length: 10_000 }, (_, i) => ({ data: sine(i).subarray(0, 12) })) };
    case 'resample':
      // 16 kHz audio on a 24 kHz context: resampled by the buffer.
      return { sampleRate: 16000, chunks: Array.from({ length: 10 }, (_, i) => ({ data: sine(i).subarray(0, 320) })) };
  }
}

const framesOf = (chunks: Push[]) => chunks.reduce((n, c) => n + (c.data instanceof Uint8Array ? c.data.length / 2 : c.data.length), 0);

/**
 * Offline, on the render clock: every chunk arrives at 0 and plays at once; the output is checked
 * sample by sample. Live (with the monitor): a manual turn the player reports its heard time to.
 */
async function play(scenario: PlayerScenario, offline: boolean): Promise<PlayerResult> {
  const { chunks, sampleRate } = pushes(scenario);
  const frames = framesOf(chunks);
  const events: string[] = [];
  const seconds = Math.ceil(frames / 24000) + 1;
  const ctx = offline ? new OfflineAudioContext({ numberOfChannels: 1, length: seconds * 24000, sampleRate: 24000 }) : await liveContext();
  const s = offline ? undefined : current();
  const player = await createPlayer(ctx, { sampleRate, maxDelayMs: offline ? 0 : undefined, mode: 'generated' });
  record(player, events);
  const played = playedOut(player, offline ? 10_000 : seconds * 1000 + 5000);
  const turn = s?.monitor.turn().start();
  if (turn) player.attach(turn);
  const t = performance.now();
  for (const c of chunks) {
    player.push(c.data, { at: offline ? 0 : undefined, seq: c.seq });
    turn?.content(1, ((c.data instanceof Uint8Array ? c.data.length / 2 : c.data.length) * 1000) / 24000);
  }
  const pushMs = performance.now() - t;
  turn?.end();
  player.end(offline ? 0 : undefined);
  const result: PlayerResult = { pushes: chunks.length, frames, events, pushMs };
  if (ctx instanceof OfflineAudioContext) {
    // Every command reaches the processor before rendering.
    await player.stats();
    const out = (await ctx.startRendering()).getChannelData(0);
    result.nonFinite = out.filter((v) => !Number.isFinite(v)).length;
    result.nonSilent = out.filter((v) => v !== 0).length;
  }
  result.stats = await played;
  if (s) {
    const id = turn!.id;
    await until(() => s.reports.some((r) => r.id === id), 5000);
    result.turn = s.reports.find((r) => r.id === id);
  }
  player.close();
  return result;
}

// ---------------------------------------------------------------------------------------------
// WebRTC app: a voice agent (e2e/webrtc-peer.ts) with an events channel.

let pc: RTCPeerConnection | undefined;
let rtcEvents: string[] = [];

/**
 * Connects to the agent and starts a turn the agent answers slowly; resolves once the turn is under
 * way. `finish` then waits for the peer connection to end. Through earshot, `observePeerConnection`
 * watches it (grace 1000 ms).
 */
async function rtcStart(peer: string, id: string, mode: Exclude<Mode, 'observed'>): Promise<void> {
  const s = current();
  const events: string[] = (rtcEvents = []);
  pc = new RTCPeerConnection();
  const conn = pc;
  if (mode === 'earshot') observePeerConnection(s.monitor, conn, { adapter: adapters.openaiRealtime(), url: `${peer}/offer`, graceMs: 1000, audio: false, statsIntervalMs: 0 });
  conn.addEventListener('connectionstatechange', () => events.push(`pc ${conn.connectionState}`));
  conn.addTransceiver('audio', { direction: 'recvonly' });
  const dc = conn.createDataChannel('oai-events');
  dc.onopen = () => events.push('dc open');
  dc.onclose = () => events.push('dc close');
  dc.onmessage = (e) => events.push(`dc ${(JSON.parse(e.data as string) as { type: string }).type}`);
  await conn.setLocalDescription(await conn.createOffer());
  await until(() => conn.iceGatheringState === 'complete', 5000);
  const res = await fetch(`${peer}/offer?id=${id}`, { method: 'POST', body: conn.localDescription!.sdp });
  await conn.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  await until(() => dc.readyState === 'open', 10_000);
  dc.send(JSON.stringify({ type: 'response.create', script: { gaps: '50,20000' } }));
  await until(() => events.includes('dc response.output_text.delta'), 5000);
}

/**
 * The agent went away: the app waits for its peer connection to leave `connected`, gives it
 * `graceMs` to come back (as earshot does), then hangs up.
 */
async function rtcFinish(graceMs: number, timeoutMs: number): Promise<AppView> {
  const conn = pc!;
  const timedOut = !(await until(() => conn.connectionState !== 'connected', timeoutMs));
  await sleep(graceMs);
  conn.close();
  return { events: rtcEvents, timedOut };
}

// ---------------------------------------------------------------------------------------------
// Configuration: what each mistake does at init.

async function config(): Promise<ConfigCase[]> {
  const ctx = new OfflineAudioContext({ numberOfChannels: 1, length: 128, sampleRate: 24000 });
  const cases: Array<[string, () => unknown]> = [
    ['createMonitor: unknown option `bogus`', () => createMonitor({ bogus: 1 } as never)],
    ['createMonitor: slo.ttftMs -1', () => createMonitor({ slo: { ttftMs: -1 } })],
    ['createMonitor: slo.tpotMs NaN', () => createMonitor({ slo: { tpotMs: NaN } })],
    ['createMonitor: slo.objective 1.5', () => createMonitor({ slo: { objective: 1.5 } })],
    ['createMonitor: slo.ttft (misspelt ttftMs) 300', () => createMonitor({ slo: { ttft: 300 } as never })],
    ['createMonitor: stallMs -5', () => createMonitor({ stallMs: -5 })],
    ['otel: unknown option `bogus`', () => otel({ serviceName: 'x', bogus: 1 } as never)],
    ['otel: url "not a url"', () => otel({ serviceName: 'x', url: 'not a url' })],
    ['otel: url "ftp://collector"', () => otel({ serviceName: 'x', url: 'ftp://collector' })],
    ['otel: exportTimeoutMs NaN', () => otel({ serviceName: 'x', exportTimeoutMs: NaN })],
    ['otel: maxQueue -1', () => otel({ serviceName: 'x', maxQueue: -1 })],
    ['otel: serviceName missing', () => otel({} as never)],
    ['createPlayer: workletUrl that 404s', () => createPlayer(ctx, { workletUrl: './missing-worklet.js' })],
    ['createPlayer: unknown option `bogus`', () => createPlayer(ctx, { bogus: 1 } as never)],
    ['createPlayer: sampleRate NaN', () => createPlayer(ctx, { sampleRate: NaN })],
    ['createPlayer: maxDelayMs -100', () => createPlayer(ctx, { maxDelayMs: -100 })],
    ['adapters.pcm: sampleRate 0', () => adapters.pcm({ sampleRate: 0 })],
    ['adapters.json: unknown option `contents`', () => adapters.json({ contents: ['delta'] } as never)],
    ['createMonitor: deadlineMs -5', () => createMonitor({ deadlineMs: -5 })],
  ];
  const out: ConfigCase[] = [];
  for (const [name, make] of cases) {
    try {
      const made = await make();
      // What was made is shut down: an exporter, a player.
      await (made as Partial<OtelSink> | undefined)?.shutdown?.();
      (made as Partial<Player> | undefined)?.close?.();
      out.push({ name, result: 'accepted' });
    } catch (error) {
      out.push({ name, result: `threw ${describeError(error)}` });
    }
  }
  return out;
}

/** The policy is enforced: eval and a blob: worklet are refused. */
async function cspProbe(): Promise<{ eval: string; blobWorklet: string }> {
  // In a task of its own: code run by DevTools (page.evaluate) may eval whatever the policy says.
  const evaluated = await new Promise<string>((resolve) =>
    setTimeout(() => {
      try {
        new Function('return 1')();
        resolve('allowed');
      } catch (error) {
        resolve(`refused (${(error as Error).name})`);
      }
    }),
  );
  const before = violations.length;
  const url = URL.createObjectURL(new Blob(['registerProcessor("x", class extends AudioWorkletProcessor { process() { return false; } })'], { type: 'text/javascript' }));
  let blobWorklet = 'loaded';
  try {
    await new OfflineAudioContext({ numberOfChannels: 1, length: 128, sampleRate: 24000 }).audioWorklet.addModule(url);
  } catch (error) {
    blobWorklet = `refused (${(error as Error).name})`;
  }
  // The probes' own violations are expected; the page's count stays that of earshot's work.
  violations.length = before;
  return { eval: evaluated, blobWorklet };
}

/** `n` manual turns of one content chunk each, ended at once: `n` turn spans waiting for export. */
function manualTurns(n: number): void {
  const { monitor } = current();
  for (let i = 0; i < n; i++) {
    const turn = monitor.turn().start();
    turn.content(1);
    turn.end();
  }
}

/** A manual turn the server never answers, under the monitor's deadline. */
function manualHang(): void {
  current().monitor.turn().start();
}

const running = new Map<string, Promise<unknown>>();
let flushing: Promise<void> | undefined;

const faults = {
  ready: true as const,
  setup,
  state,
  ws,
  fetch: fetchRun,
  concurrent,
  load,
  play,
  config,
  cspProbe,
  manualTurns,
  manualHang,
  rtcStart,
  rtcFinish,
  /** Starts `work` in the page under `key`; `result(key)` awaits it. */
  begin(key: string, work: 'ws' | 'fetch', options: WsRun | FetchRun): void {
    running.set(key, work === 'ws' ? ws(options as WsRun) : fetchRun(options as FetchRun));
  },
  result: (key: string) => running.get(key),
  flush: () => current().sink.flush(),
  /** The session's state once `count` turns have been reported (or after `timeoutMs`). */
  async settle(count: number, timeoutMs: number): Promise<PageState> {
    await until(() => current().reports.length >= count, timeoutMs);
    return state();
  },
  /** Starts a flush and returns at once; `flushed()` awaits it. */
  startFlush(): void {
    flushing = current().sink.flush();
  },
  flushed: () => flushing,
  /** What the browser does when the page is hidden (headless Chromium never hides a page itself). */
  hide(): void {
    Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  },
  timeline: () => ({ longTasks, frames }),
  now: () => performance.now(),
};

export type Faults = typeof faults;
declare global {
  interface Window {
    faults: Faults;
  }
}
window.faults = faults;
