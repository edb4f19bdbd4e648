/**
 * Scripted server for e2e/faults.spec.ts: the fault and bad-input matrix. It serves the test app (a
 * Vite build, under a strict Content-Security-Policy) and streams that misbehave on request. It
 * listens on three origins: the page's, one allowed to receive trace context, and a third party.
 *
 *   GET /<file>                  the built app (`root`); HTML carries the CSP header
 *   GET /echo?id=X               "ok"; the request's headers are kept for `seen(X)`
 *   GET /sse?kind=K&id=X&...     an SSE stream (see `sseScript`): chat completions, or a fault
 *   WS  /ws?id=X                 each `{"type":"req","script":{...}}` message gets a reply (see
 *                                `wsReply`); the upgrade URL and protocols are kept for `seen(X)`
 *
 * Every HTTP response allows the page's origin (CORS, any request header, all headers exposed).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface SeenRequest {
  url: string;
  headers: IncomingMessage['headers'];
}

export interface FaultsServer {
  /** The page's origin, an origin allowed to receive trace context, and a third party. */
  readonly origins: readonly [page: string, allowed: string, thirdParty: string];
  /** Requests and WebSocket upgrades tagged `id`, in order. */
  seen(id: string): SeenRequest[];
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Secrets the spec looks for in telemetry: they travel in URLs, payloads and error text. */
export const SECRETS = {
  payload: 'PAYLOAD-SECRET-7f3a',
  error: 'ERROR-SECRET-91bd',
  /** Its bytes (four times over), base64-encoded as the audio of a Realtime audio delta. */
  audio: 'AUDIO-SECRET-c0de',
} as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const chat = (content: string) => `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content } }] })}\n\n`;
const DONE = 'data: [DONE]\n\n';

/** A step of a scripted reply: wait `wait` ms, then write `data` (if any). */
interface Step {
  wait?: number;
  data?: string | Buffer;
}

/** How a scripted HTTP body ends after its steps. */
type Ending = 'end' | 'reset' | 'short' | 'hang';

type Params = (key: string, fallback?: number) => number;

/**
 * The SSE body of `kind`, as steps and an ending (`n` events `gap` ms apart unless said otherwise):
 * - `chat`: OpenAI chat-completion chunks, then `[DONE]` (`done=0`: without it, a clean end).
 * - `reset`: `after` events, then a TCP reset. `short`: `Content-Length` promises more than the
 *   `after` events sent, then the server ends the socket (the body read fails).
 * - `noblank`: `data:` lines with no blank line between events. `garbage`: chat events among
 *   invalid UTF-8, NULs, lone CRs, nameless fields and truncated JSON. `longline`: one event of
 *   `bytes` of content (default 1 MiB). `utf8`: events of multi-byte characters, every write cut
 *   inside a character. `storm`: `n` events in one write. `secret`: chat events carrying
 *   `SECRETS.payload`. `hang`: no answer at all.
 */
function sseScript(kind: string, p: Params): { steps: Step[]; ending: Ending } {
  const n = p('n', 5);
  const gap = p('gap', 10);
  const events = (make: (i: number) => string) => Array.from({ length: n }, (_, i): Step => ({ wait: gap, data: make(i) }));
  switch (kind) {
    case 'chat':
      return { steps: [...events((i) => chat(`w${i} `)), ...(p('done', 1) ? [{ data: DONE }] : [])], ending: 'end' };
    case 'reset':
    case 'short':
      return { steps: events((i) => chat(`w${i} `)).slice(0, p('after', 3)).concat({ wait: 50 }), ending: kind };
    case 'noblank':
      return { steps: events((i) => `data: w${i}\n`), ending: 'end' };
    case 'garbage': {
      const junk = [
        Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a, 0x0a]),
        Buffer.from('data\n\n:comment only\n\nevent:\n\ndata: {"choices":[{"delta":\n\n'),
        Buffer.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0x20, 0xc3, 0x28, 0x0d, 0x0d]),
        Buffer.from('\r\r\n\n\0\0\0data: \0\n\n'),
      ];
      const steps = events((i) => chat(`w${i} `)).flatMap((step, i) => [step, { data: junk[i % junk.length] }]);
      return { steps: [...steps, { data: DONE }], ending: 'end' };
    }
    case 'longline':
      return { steps: [{ data: chat('x'.repeat(p('bytes', 1 << 20))) }, { wait: gap, data: chat('tail') }, { data: DONE }], ending: 'end' };
    case 'utf8': {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => chat(`é😀€${i}ü`)).join('') + DONE);
      // Cut 3 bytes into every 7-byte stretch: most cuts fall inside a character.
      const steps: Step[] = [];
      for (let at = 0; at < bytes.length; at += 7) steps.push({ wait: 2, data: bytes.subarray(at, at + 7) });
      return { steps, ending: 'end' };
    }
    case 'storm':
      return { steps: [{ data: Array.from({ length: n }, (_, i) => chat(`s${i}`)).join('') + DONE }], ending: 'end' };
    case 'secret':
      return { steps: [...events((i) => chat(`${SECRETS.payload} ${i}`)), { data: DONE }], ending: 'end' };
    case 'hang':
      return { steps: [], ending: 'hang' };
    default:
      throw new Error(`unknown SSE kind ${kind}`);
  }
}

async function streamSse(req: IncomingMessage, res: ServerResponse, url: URL, p: Params): Promise<void> {
  const { steps, ending } = sseScript(url.searchParams.get('kind') ?? 'chat', p);
  if (ending === 'hang') return; // the socket stays open, unanswered, until the client goes
  const socket = req.socket as Socket;
  socket.setNoDelay(true);
  const headers: Record<string, string> = { 'content-type': 'text/event-stream', 'cache-control': 'no-store' };
  // A body that promises 1 MiB more than it sends: the client's read fails when the socket ends.
  if (ending === 'short') headers['content-length'] = String(1 << 20);
  res.writeHead(200, headers);
  res.flushHeaders();
  for (const step of steps) {
    if (step.wait) await sleep(step.wait);
    if (res.destroyed) return;
    if (step.data) res.write(step.data);
  }
  if (ending === 'reset') socket.resetAndDestroy();
  else if (ending === 'short') socket.end();
  else res.end();
}

/**
 * The reply to one WebSocket request, by `script.kind` (`n` deltas `gap` ms apart, then `done`,
 * unless said otherwise): `chat`; `close` (`after` deltas, then a close with `code` and `reason`);
 * `reset` (`after` deltas, then a TCP reset); `hang` (nothing); `invalidjson` (deltas among
 * truncated and invalid JSON texts); `binary` (deltas among binary frames: JSON text as bytes,
 * random bytes, an empty frame); `big` (one delta of `bytes`, default 16 MiB); `storm` (`n` deltas in
 * one burst); `pcm` (binary PCM16 frames of the `sizes` given, then a normal close); `load` (`rate`
 * deltas per second for `seconds`); `secret` (deltas and a Realtime audio delta carrying `SECRETS`,
 * then an error event with `SECRETS.error`).
 */
async function wsReply(ws: WebSocket, script: Record<string, unknown>): Promise<void> {
  const p: Params = (key, fallback = 0) => (typeof script[key] === 'number' ? (script[key] as number) : fallback);
  const live = () => ws.readyState === ws.OPEN;
  const send = (data: string | Buffer) => live() && ws.send(data);
  const delta = (text: string) => JSON.stringify({ type: 'delta', text });
  const done = () => send(JSON.stringify({ type: 'done' }));
  const n = p('n', 5);
  const gap = p('gap', 10);
  const deltas = async (count: number, between: (i: number) => void = () => undefined) => {
    for (let i = 0; i < count && live(); i++) {
      await sleep(gap);
      send(delta(`w${i} `));
      between(i);
    }
  };
  switch (script.kind) {
    case 'chat':
      await deltas(n);
      return void done();
    case 'close':
      await deltas(p('after', 3));
      await sleep(gap);
      return ws.close(p('code', 1011), String(script.reason ?? ''));
    case 'reset':
      await deltas(p('after', 3));
      await sleep(gap);
      return void (ws as unknown as { _socket: Socket })._socket.resetAndDestroy();
    case 'hang':
      return;
    case 'invalidjson': {
      const bad = ['{"type":"delta","text":', '{type:"delta"}', '{"type":"delta","text":"a"}}', '{', '{"type":"delta","text":"\\ud800"', 'null'];
      await deltas(n, (i) => send(bad[i % bad.length]));
      return void done();
    }
    case 'binary': {
      const frames = [Buffer.from(delta('as bytes')), Buffer.from([0xff, 0x00, 0x7b, 0x22]), Buffer.alloc(0), Buffer.from('{"type":"done"')];
      await deltas(n, (i) => send(frames[i % frames.length]));
      return void done();
    }
    case 'big':
      send(delta('x'.repeat(p('bytes', 16 << 20))));
      await sleep(gap);
      return void done();
    case 'storm':
      for (let i = 0; i < n; i++) send(delta(`s${i}`));
      return void done();
    case 'pcm': {
      const sizes = Array.isArray(script.sizes) ? (script.sizes as number[]) : [960];
      for (const [i, size] of sizes.entries()) {
        await sleep(gap);
        // A quiet sine in PCM16: audible, so the player reports when it is heard.
        const frame = Buffer.alloc(size);
        for (let k = 0; k + 1 < size; k += 2) frame.writeInt16LE(Math.round(3000 * Math.sin((i * size + k) / 8)), k);
        send(frame);
      }
      await sleep(gap);
      return ws.close(1000);
    }
    case 'load': {
      const perTick = Math.round(p('rate', 10_000) / 100);
      const ticks = Math.round(p('seconds', 5) * 100);
      const start = performance.now();
      let sent = 0;
      for (let t = 1; t <= ticks && live(); t++) {
        for (let i = 0; i < perTick; i++) send(delta(`l${sent++}`));
        // Paced against the start, so timer lateness never lowers the rate.
        await sleep(Math.max(0, start + t * 10 - performance.now()));
      }
      return void send(JSON.stringify({ type: 'done', sent }));
    }
    case 'secret': {
      await deltas(2, () => send(delta(SECRETS.payload)));
      const audio = Buffer.from(SECRETS.audio.repeat(4)).toString('base64');
      send(JSON.stringify({ type: 'response.output_audio.delta', delta: audio }));
      return void send(JSON.stringify({ type: 'error', message: SECRETS.error }));
    }
    default:
      throw new Error(`unknown WebSocket kind ${String(script.kind)}`);
  }
}

export async function startFaultsServer(options: { root: string }): Promise<FaultsServer> {
  const seen = new Map<string, SeenRequest[]>();
  const keep = (id: string | null, req: IncomingMessage) => {
    if (!id) return;
    const list = seen.get(id) ?? [];
    list.push({ url: req.url ?? '', headers: req.headers });
    seen.set(id, list);
  };
  // Scripts from the page's origin only: no inline script, no eval, no blob: (worklets included).
  // Connections to any local port: the collector and a WebRTC agent listen where they can.
  const csp = "default-src 'self'; script-src 'self'; connect-src 'self' http://127.0.0.1:* ws://127.0.0.1:*; media-src 'self'";

  function cors(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (!origin) return;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-headers', req.headers['access-control-request-headers'] ?? '*');
    res.setHeader('access-control-expose-headers', '*');
    res.setHeader('vary', 'origin');
  }

  async function serveFile(res: ServerResponse, pathname: string): Promise<void> {
    const file = normalize(join(options.root, pathname));
    if (!file.startsWith(options.root + sep)) return void res.writeHead(404).end();
    try {
      const body = await readFile(file);
      const headers: Record<string, string> = { 'content-type': MIME[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' };
      if (extname(file) === '.html') headers['content-security-policy'] = csp;
      res.writeHead(200, headers).end(body);
    } catch {
      res.writeHead(404).end();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    cors(req, res);
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    const p: Params = (key, fallback = 0) => {
      const v = Number(url.searchParams.get(key) ?? NaN);
      return Number.isFinite(v) ? v : fallback;
    };
    keep(url.searchParams.get('id'), req);
    if (url.pathname === '/echo') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (url.pathname === '/favicon.ico') return void res.writeHead(204).end();
    if (url.pathname === '/sse') return streamSse(req, res, url, p);
    return serveFile(res, url.pathname);
  }

  const servers: Array<[Server, WebSocketServer]> = [];
  const listen = async () => {
    const server = createServer((req, res) => {
      handle(req, res).catch(() => res.destroy());
    });
    const wss = new WebSocketServer({ server, path: '/ws', perMessageDeflate: false, maxPayload: 64 << 20 });
    wss.on('connection', (ws, req) => {
      keep(new URL(req.url ?? '/', 'http://x').searchParams.get('id'), req);
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        let message: { type?: string; script?: Record<string, unknown> };
        try {
          message = JSON.parse(String(data)) as typeof message;
        } catch {
          return;
        }
        if (message.type === 'req') void wsReply(ws, message.script ?? { kind: 'chat' }).catch(() => ws.terminate());
      });
      ws.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push([server, wss]);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const origins = [await listen(), await listen(), await listen()] as const;
  return {
    origins,
    seen: (id) => seen.get(id) ?? [],
    async close() {
      for (const [server, wss] of servers) {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  };
}
