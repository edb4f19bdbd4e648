/**
 * Test server for the end-to-end suite: static files from the repo root, and scripted streams
 * whose timing is known, so what the browser measures can be checked against a schedule.
 *
 * Streams (every schedule starts when the request, or the WebSocket message, arrives):
 *   /sse?format=openai|anthropic|generic   Server-Sent Events in that vendor's chat format
 *   /ndjson?format=ollama|generic          one JSON object per line
 *   /chunks?format=text|json               plain chunked body, one write per message
 *   /ws?format=text|binary|realtime        each received message starts a turn of replies
 *   /log?id=X                              what the server sent for requests tagged id=X, and when
 *   /beacon?id=X                           (POST) keeps the body in the log of id=X, for reports sent on unload
 *   /health                                readiness probe; event-loop delay since the last call
 *
 * Shared parameters (query string, or for /ws a `{"script": {...}}` object in the request message):
 *   gaps=50,20x5,100  gap before each content message in ms (`20x5` = five gaps of 20 ms)
 *   id=X              tag for /log
 *   usage=1           report output tokens (`utok`, default 3 per message) at the end
 *   done=0            omit the terminal event ([DONE], message_stop, response.done)
 *   preamble=0        omit the non-content events sent on arrival (role delta, message_start, ...)
 *   error=reset-after:K | fin-after:K   after K messages, reset (RST) or close (FIN) the TCP socket
 *   close=CODE&after=K&reason=R          (ws) close with CODE after K messages (default: all)
 *   destroy=K                            (ws) destroy the TCP socket after K messages
 *   bytes=N                              (ws binary) frame size; (realtime audio) PCM bytes
 *   delta=TYPE                           (ws realtime) event type of content deltas
 *   status=N, cors=0, coi=1              HTTP status, no CORS headers, cross-origin isolation
 * A fault "after K messages" takes the place of message K+1 at its scheduled time (or comes 20 ms
 * after the last message), so the browser has read everything before it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import ts from 'typescript';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { HOST, PORT, SECOND_PORT } from './env';
import { parseGaps } from './script';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FAULT_AFTER_LAST_MS = 20;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.ts': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.wav': 'audio/wav',
  '.txt': 'text/plain; charset=utf-8',
};

/** Reads one parameter of a stream script, from a query string or a `{"script": {...}}` object. */
type Params = (key: string) => string | undefined;

function queryParams(search: URLSearchParams): Params {
  return (key) => search.get(key) ?? undefined;
}

function objectParams(script: Record<string, unknown>): Params {
  return (key) => {
    const v = script[key];
    if (v === undefined || v === null) return undefined;
    return Array.isArray(v) ? v.join(',') : String(v);
  };
}

function num(p: Params, key: string, fallback: number): number {
  const v = p(key);
  const n = v === undefined ? NaN : Number(v);
  return Number.isFinite(n) ? n : fallback;
}

function flag(p: Params, key: string, fallback: boolean): boolean {
  const v = p(key);
  return v === undefined ? fallback : v !== '0' && v !== 'false';
}

/** `reset-after:3` -> { kind: 'reset', after: 3 }. */
function parseFault(p: Params): { kind: 'reset' | 'fin' | 'destroy'; after: number } | undefined {
  const error = p('error');
  if (error) {
    const m = /^(reset|fin)-after:(\d+)$/.exec(error);
    if (m) return { kind: m[1] as 'reset' | 'fin', after: Number(m[2]) };
  }
  if (p('destroy') !== undefined) return { kind: 'destroy', after: num(p, 'destroy', 0) };
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Send log: what went out and when, per `id`, for debugging a failed timing assertion.

interface LogEntry {
  t: number;
  what: string;
}
const sendLog = new Map<string, LogEntry[]>();
const LOG_KEYS = 500;

function logSend(id: string | undefined, what: string): void {
  if (!id) return;
  let entries = sendLog.get(id);
  if (!entries) {
    if (sendLog.size >= LOG_KEYS) sendLog.delete(sendLog.keys().next().value as string);
    entries = [];
    sendLog.set(id, entries);
  }
  entries.push({ t: performance.now(), what });
}

/** Event-loop delay since the last call: how late this server's timers could have fired. */
const loopHistogram = monitorEventLoopDelay({ resolution: 1 });
loopHistogram.enable();
function loopDelay(): { maxMs: number; p99Ms: number } {
  const out = { maxMs: loopHistogram.max / 1e6, p99Ms: loopHistogram.percentile(99) / 1e6 };
  loopHistogram.reset();
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scheduling. Each step is timed against a target offset from the arrival time, so the usual
// sub-millisecond timer lateness never accumulates across a stream.

interface Step {
  at: number;
  run: () => void;
}

function play(start: number, steps: Step[], live: () => boolean): void {
  let i = 0;
  let shift = 0;
  const tick = (): void => {
    while (i < steps.length && live()) {
      const target = start + shift + steps[i].at;
      const now = performance.now();
      if (target - now > 0.5) {
        setTimeout(tick, target - now);
        return;
      }
      // A step that runs late moves the rest of the schedule with it: the gaps after a stall stay
      // as scripted instead of bursting to catch up, so one stall spoils one gap, not several.
      if (now - target > 1) shift += now - target;
      steps[i++].run();
    }
  };
  tick();
}

/** Offsets of each content message from arrival, and of a fault that replaces message `after`+1. */
function timeline(gaps: number[], faultAfter: number | undefined): { at: number[]; faultAt?: number } {
  const at: number[] = [];
  let sum = 0;
  for (const g of gaps) at.push((sum += g));
  if (faultAfter === undefined) return { at };
  const faultAt =
    faultAfter < gaps.length ? at[faultAfter] : (at[at.length - 1] ?? 0) + FAULT_AFTER_LAST_MS;
  return { at: at.slice(0, Math.min(faultAfter, gaps.length)), faultAt };
}

// ---------------------------------------------------------------------------------------------
// Wire formats of HTTP streams.

interface HttpFormat {
  contentType: string;
  /** Non-content events sent on arrival. */
  preamble(p: Params): string;
  message(i: number, p: Params): string;
  /** What follows the last message: usage, terminal event. */
  trailer(n: number, p: Params): string;
}

const token = (i: number): string => `tok${i} `;
const usageTokens = (n: number, p: Params): number => num(p, 'utok', 3 * n);
const sse = (data: unknown, event?: string): string =>
  `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;

const openaiChunk = (delta: Record<string, unknown>, finish: string | null = null): unknown => ({
  id: 'chatcmpl-e2e',
  object: 'chat.completion.chunk',
  created: 0,
  model: 'e2e',
  choices: [{ index: 0, delta, finish_reason: finish }],
});

const HTTP_FORMATS: Record<string, Record<string, HttpFormat>> = {
  sse: {
    openai: {
      contentType: 'text/event-stream; charset=utf-8',
      preamble: (p) => (flag(p, 'preamble', true) ? sse(openaiChunk({ role: 'assistant', content: '' })) : ''),
      message: (i) => sse(openaiChunk({ content: token(i) })),
      trailer: (n, p) => {
        let out = sse(openaiChunk({}, 'stop'));
        if (flag(p, 'usage', false)) {
          const u = usageTokens(n, p);
          out += sse({
            id: 'chatcmpl-e2e',
            object: 'chat.completion.chunk',
            choices: [],
            usage: { prompt_tokens: 7, completion_tokens: u, total_tokens: 7 + u },
          });
        }
        if (flag(p, 'done', true)) out += sse('[DONE]');
        return out;
      },
    },
    anthropic: {
      contentType: 'text/event-stream; charset=utf-8',
      preamble: (p) =>
        flag(p, 'preamble', true)
          ? sse(
              {
                type: 'message_start',
                message: {
                  id: 'msg_e2e',
                  type: 'message',
                  role: 'assistant',
                  content: [],
                  model: 'e2e',
                  stop_reason: null,
                  usage: { input_tokens: 7, output_tokens: 1 },
                },
              },
              'message_start',
            ) +
            sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start') +
            sse({ type: 'ping' }, 'ping')
          : '',
      message: (i) =>
        sse({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: token(i) } }, 'content_block_delta'),
      trailer: (n, p) => {
        let out = sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop');
        out += sse(
          {
            type: 'message_delta',
            delta: { stop_reason: 'end_turn', stop_sequence: null },
            ...(flag(p, 'usage', false) ? { usage: { output_tokens: usageTokens(n, p) } } : {}),
          },
          'message_delta',
        );
        if (flag(p, 'done', true)) out += sse({ type: 'message_stop' }, 'message_stop');
        return out;
      },
    },
    generic: {
      contentType: 'text/event-stream; charset=utf-8',
      preamble: () => '',
      message: (i) => sse(token(i)),
      trailer: () => '',
    },
  },
  ndjson: {
    ollama: {
      contentType: 'application/x-ndjson',
      preamble: () => '',
      message: (i) =>
        `${JSON.stringify({ model: 'e2e', message: { role: 'assistant', content: token(i) }, done: false })}\n`,
      trailer: (n, p) =>
        flag(p, 'done', true)
          ? `${JSON.stringify({
              model: 'e2e',
              message: { role: 'assistant', content: '' },
              done: true,
              done_reason: 'stop',
              ...(flag(p, 'usage', false) ? { eval_count: usageTokens(n, p) } : {}),
            })}\n`
          : '',
    },
    generic: {
      contentType: 'application/x-ndjson',
      preamble: () => '',
      message: (i) => `${JSON.stringify({ text: token(i) })}\n`,
      trailer: () => '',
    },
  },
  chunks: {
    text: {
      contentType: 'text/plain; charset=utf-8',
      preamble: () => '',
      message: (i) => token(i),
      trailer: () => '',
    },
    // A JSON array streamed one element per write: `["tok0 "`, `,"tok1 "`, ..., `]`.
    json: {
      contentType: 'application/json; charset=utf-8',
      preamble: () => '',
      message: (i) => `${i === 0 ? '[' : ','}${JSON.stringify(token(i))}`,
      trailer: (n) => (n === 0 ? '[]' : ']'),
    },
  },
};

function corsHeaders(req: IncomingMessage, p: Params): Record<string, string> {
  if (!flag(p, 'cors', true)) return {};
  const origin = req.headers.origin;
  const headers: Record<string, string> = {
    'access-control-allow-origin': origin ?? '*',
    'access-control-expose-headers': '*',
    'timing-allow-origin': '*',
    vary: 'Origin',
  };
  const requested = req.headers['access-control-request-headers'];
  if (requested) headers['access-control-allow-headers'] = requested;
  if (req.headers['access-control-request-method']) headers['access-control-allow-methods'] = 'GET, POST, OPTIONS';
  return headers;
}

function streamHttp(req: IncomingMessage, res: ServerResponse, format: HttpFormat, p: Params): void {
  const start = performance.now();
  const id = p('id');
  logSend(id, 'request');
  const gaps = parseGaps(p('gaps'));
  const fault = parseFault(p);
  const { at, faultAt } = timeline(gaps, fault?.after);
  let ended = false;
  res.on('close', () => {
    if (!ended) logSend(id, 'client-closed');
    ended = true;
  });
  req.socket.setNoDelay(true);
  res.writeHead(num(p, 'status', 200), {
    'content-type': p('ctype') ?? format.contentType,
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    'cross-origin-resource-policy': 'cross-origin',
    ...corsHeaders(req, p),
  });
  // Headers leave now, so the fetch() promise resolves before the first content message.
  const preamble = format.preamble(p);
  if (preamble) res.write(preamble);
  else res.flushHeaders();
  logSend(id, 'headers');

  const steps: Step[] = at.map((offset, i) => ({
    at: offset,
    run: () => {
      let out = format.message(i, p);
      if (i === gaps.length - 1) out += format.trailer(gaps.length, p);
      res.write(out);
      logSend(id, `message ${i}`);
      if (i === gaps.length - 1 && !fault) {
        ended = true;
        res.end();
        logSend(id, 'end');
      }
    },
  }));
  if (gaps.length === 0 && !fault) {
    steps.push({ at: 0, run: () => ((ended = true), res.end(format.trailer(0, p))) });
  }
  if (fault && faultAt !== undefined) {
    steps.push({
      at: faultAt,
      run: () => {
        ended = true;
        logSend(id, `fault ${fault.kind}`);
        if (fault.kind === 'reset') req.socket.resetAndDestroy();
        else req.socket.destroy();
      },
    });
  }
  play(start, steps, () => !ended);
}

// ---------------------------------------------------------------------------------------------
// WebSocket turns.

type WsFormat = 'text' | 'binary' | 'realtime';

function wsScript(data: RawData, isBinary: boolean, fallback: Params): { p: Params; reply: boolean } {
  if (isBinary) return { p: fallback, reply: true };
  try {
    const msg = JSON.parse(data.toString()) as Record<string, unknown>;
    const script = msg.script;
    const own = script && typeof script === 'object' ? objectParams(script as Record<string, unknown>) : undefined;
    const p: Params = own ? (key) => own(key) ?? fallback(key) : fallback;
    // In the Realtime protocol only `response.create` asks for a response.
    const reply = typeof msg.type !== 'string' || msg.type === 'response.create';
    return { p, reply };
  } catch {
    return { p: fallback, reply: true };
  }
}

function realtimeEvents(turn: number, p: Params): {
  preamble: () => string;
  message: (i: number) => string;
  trailer: (n: number) => string[];
} {
  const delta = p('delta') ?? 'response.output_text.delta';
  const audio = delta.includes('audio.delta');
  const ids = { response_id: `resp_${turn}`, item_id: `item_${turn}`, output_index: 0, content_index: 0 };
  const pcm = Buffer.alloc(num(p, 'bytes', 960)).toString('base64');
  return {
    preamble: () =>
      JSON.stringify({ type: 'response.created', event_id: `evt_${turn}_c`, response: { id: ids.response_id, status: 'in_progress' } }),
    message: (i) =>
      JSON.stringify({ type: delta, event_id: `evt_${turn}_${i}`, ...ids, delta: audio ? pcm : token(i) }),
    trailer: (n) => {
      const out = [JSON.stringify({ type: delta.replace(/delta$/, 'done'), event_id: `evt_${turn}_d`, ...ids })];
      if (flag(p, 'done', true)) {
        const usage = flag(p, 'usage', true)
          ? { usage: { total_tokens: 7 + usageTokens(n, p), input_tokens: 7, output_tokens: usageTokens(n, p) } }
          : {};
        out.push(
          JSON.stringify({
            type: 'response.done',
            event_id: `evt_${turn}_e`,
            response: { id: ids.response_id, status: 'completed', ...usage },
          }),
        );
      }
      return out;
    },
  };
}

function binaryFrame(i: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let j = 0; j < bytes; j++) b[j] = (i + j) & 255;
  return b;
}

function serveTurn(ws: WebSocket, turn: number, p: Params, id: string | undefined): void {
  const start = performance.now();
  const format = (p('format') ?? 'text') as WsFormat;
  const gaps = parseGaps(p('gaps'));
  const fault = parseFault(p);
  const closeCode = p('close') === undefined ? undefined : num(p, 'close', 1000);
  const closeAfter = closeCode === undefined ? undefined : num(p, 'after', gaps.length);
  const stopAfter = fault?.after ?? closeAfter;
  const { at, faultAt } = timeline(gaps, stopAfter);
  const rt = realtimeEvents(turn, p);
  const live = (): boolean => ws.readyState === ws.OPEN;
  const send = (data: string | Buffer, what: string): void => {
    ws.send(data);
    logSend(id, `turn ${turn} ${what}`);
  };

  logSend(id, `turn ${turn} request`);
  if (format === 'realtime' && flag(p, 'preamble', true)) send(rt.preamble(), 'preamble');
  const steps: Step[] = at.map((offset, i) => ({
    at: offset,
    run: () => {
      if (format === 'binary') send(binaryFrame(i, num(p, 'bytes', 64)), `message ${i}`);
      else if (format === 'realtime') send(rt.message(i), `message ${i}`);
      else send(token(i), `message ${i}`);
      if (format === 'realtime' && i === gaps.length - 1) {
        for (const e of rt.trailer(gaps.length)) send(e, 'trailer');
      }
    },
  }));
  if (faultAt !== undefined) {
    steps.push({
      at: faultAt,
      run: () => {
        if (fault) {
          logSend(id, `turn ${turn} fault destroy`);
          ws.terminate();
        } else {
          logSend(id, `turn ${turn} close ${closeCode}`);
          ws.close(closeCode, p('reason') ?? '');
        }
      },
    });
  }
  play(start, steps, live);
}

function acceptWebSocket(wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  wss.handleUpgrade(req, socket, head, (ws) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const fallback = queryParams(url.searchParams);
    const id = fallback('id');
    let turns = 0;
    (socket as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    logSend(id, 'open');
    ws.on('message', (data, isBinary) => {
      const { p, reply } = wsScript(data, isBinary, fallback);
      if (reply) serveTurn(ws, turns++, p, id);
    });
    ws.on('close', (code) => logSend(id, `closed ${code}`));
    ws.on('error', () => logSend(id, 'error'));
  });
}

// ---------------------------------------------------------------------------------------------
// Static files. `.ts` files under /e2e/ are transpiled, so page scripts share types with specs.

const transpiled = new Map<string, { mtimeMs: number; code: string }>();

/** The file as JavaScript, transpiled once per modification (TypeScript's compile blocks the event loop). */
async function transpile(file: string, mtimeMs: number): Promise<string> {
  const cached = transpiled.get(file);
  if (cached && cached.mtimeMs === mtimeMs) return cached.code;
  const source = await readFile(file, 'utf8');
  const code = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    fileName: file,
  }).outputText;
  transpiled.set(file, { mtimeMs, code });
  return code;
}

/** Transpile the page scripts before serving, so no stream's timers wait on the compiler. */
async function warmPageScripts(): Promise<void> {
  const dir = join(ROOT, 'e2e', 'pages');
  for (const name of await readdir(dir)) {
    if (name.endsWith('.ts')) {
      const file = join(dir, name);
      await transpile(file, (await stat(file)).mtimeMs);
    }
  }
}

async function serveStatic(req: IncomingMessage, res: ServerResponse, url: URL, coi: boolean): Promise<void> {
  const rel = decodeURIComponent(url.pathname.replace(/^\/coi(?=\/)/, ''));
  const file = join(ROOT, rel);
  if (!file.startsWith(ROOT + sep)) return notFound(res);
  let mtimeMs: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) return notFound(res);
    mtimeMs = s.mtimeMs;
  } catch {
    return notFound(res);
  }
  const ext = extname(file);
  const body = ext === '.ts' && rel.startsWith('/e2e/') ? await transpile(file, mtimeMs) : await readFile(file);
  const headers: Record<string, string> = {
    'content-type': MIME[ext] ?? 'application/octet-stream',
    'cache-control': 'no-store',
    'cross-origin-resource-policy': 'cross-origin',
    ...corsHeaders(req, () => undefined),
  };
  if (coi) {
    headers['cross-origin-opener-policy'] = 'same-origin';
    headers['cross-origin-embedder-policy'] = 'require-corp';
  }
  res.writeHead(200, headers);
  res.end(body);
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('not found');
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const p = queryParams(url.searchParams);
  const route = url.pathname.slice(1);
  if (req.method === 'OPTIONS') {
    res.writeHead(204, corsHeaders(req, p));
    res.end();
    return;
  }
  if (route === 'health') {
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(loopDelay()));
    return;
  }
  if (route === 'beacon') {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      logSend(p('id'), body);
      res.writeHead(204, corsHeaders(req, p));
      res.end();
    });
    return;
  }
  if (route === 'log') {
    const entries = sendLog.get(p('id') ?? '') ?? [];
    const t0 = entries[0]?.t ?? 0;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', ...corsHeaders(req, p) });
    res.end(JSON.stringify(entries.map((e) => ({ t: Math.round((e.t - t0) * 1000) / 1000, what: e.what }))));
    return;
  }
  const formats = HTTP_FORMATS[route];
  if (formats) {
    const name = p('format') ?? Object.keys(formats)[0];
    const format = formats[name];
    if (!format) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`unknown format ${name}`);
      return;
    }
    // Drain any request body first, so a POST stream is timed from the complete request.
    req.resume();
    req.on('end', () => streamHttp(req, res, format, p));
    return;
  }
  await serveStatic(req, res, url, flag(p, 'coi', false) || url.pathname.startsWith('/coi/'));
}

/** Starts the server on `port`; the returned function closes it. */
export async function startServer(port: number, host = HOST): Promise<() => Promise<void>> {
  await warmPageScripts();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server: Server = createServer({ noDelay: true, keepAlive: true }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? '/', 'http://x').pathname === '/ws') acceptWebSocket(wss, req, socket, head);
    else socket.destroy();
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  return () =>
    new Promise<void>((ok) => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      server.close(() => ok());
    });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await startServer(PORT);
  await startServer(SECOND_PORT);
  console.log(`earshot e2e server on http://${HOST}:${PORT} and :${SECOND_PORT}`);
}
