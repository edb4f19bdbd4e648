/**
 * The earshot demo server: the demo page, the SDK build, and two streaming endpoints that answer
 * like an LLM API under a chosen latency profile, so the page can measure them with earshot.
 *
 *   GET  /                      the demo page (demo/index.html, demo/app.js)
 *   GET  /dist/*                the SDK as built by `npm run build`
 *   POST /v1/chat/completions   OpenAI chat completions, streamed as Server-Sent Events
 *   WS   /realtime              a subset of the OpenAI Realtime events: on `response.create`, a
 *                               streamed reply in text, or in audio with its transcript
 *
 * The profile comes from `?profile=` (either endpoint) or the request body's `profile` field (chat):
 *   fast        TTFT ~120 ms, ~15 ms per token
 *   realistic   TTFT ~350 ms with jitter, ~30 ms per token, now and then a 150-400 ms stall (default)
 *   overloaded  TTFT 1-2 s, 80 ms per token
 *   flaky       as realistic, but half the replies drop mid-stream (TCP reset; WebSocket close 1011)
 *
 * `PORT` chooses the port (default 5173). Ctrl-C or SIGTERM closes every socket and exits 0.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
// Loopback only: the demo's endpoints are for this machine's browser, not the network.
const HOST = '127.0.0.1';
const DEFAULT_PORT = 5173;
const MODEL = 'earshot-demo';
const MAX_BODY_BYTES = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Latency profiles

const PROFILE_NAMES = ['fast', 'realistic', 'overloaded', 'flaky'] as const;
type ProfileName = (typeof PROFILE_NAMES)[number];

interface Profile {
  /** Delay before the first content chunk, ms. */
  ttft(): number;
  /** Delay before each later content chunk, ms. */
  gap(): number;
  /** Probability that a reply drops mid-stream. */
  drop: number;
}

const uniform = (lo: number, hi: number): number => lo + Math.random() * (hi - lo);

/** Right-skewed like real service latency: log-normal with this median and log-spread. */
function logNormal(median: number, sigma: number): number {
  const z = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return median * Math.exp(sigma * z);
}

const realistic: Profile = {
  ttft: () => logNormal(330, 0.25),
  // About one token in thirty stalls, as a busy server's batch scheduler makes it.
  gap: () => (Math.random() < 1 / 30 ? uniform(150, 400) : logNormal(28, 0.3)),
  drop: 0,
};

const PROFILES: Record<ProfileName, Profile> = {
  fast: { ttft: () => uniform(105, 135), gap: () => uniform(12, 18), drop: 0 },
  realistic,
  overloaded: { ttft: () => uniform(1000, 2000), gap: () => uniform(72, 88), drop: 0 },
  flaky: { ...realistic, drop: 0.5 },
};

function profileOf(name: string | null | undefined): ProfileName | undefined {
  const n = name ?? 'realistic';
  return (PROFILE_NAMES as readonly string[]).includes(n) ? (n as ProfileName) : undefined;
}

const unknownProfile = (name: unknown): string =>
  `unknown profile "${String(name)}": use one of ${PROFILE_NAMES.join(', ')}`;

// ---------------------------------------------------------------------------------------------
// Replies: words as the model's tokens, on the schedule of a profile

const ANSWERS = [
  'Streaming latency is what the user feels between asking and seeing the first word. Time to first token sets that impression, and the steadiness of every token after it decides whether the reply reads smoothly or stutters.',
  'A fast model can still feel slow. If tokens arrive in bursts with long pauses between them, readers lose their place, and listeners hear gaps in the voice. Jitter matters as much as the average speed.',
  'Measure in the browser, not only on the server. Queues, proxies, TLS, the network and the main thread all add delay that server metrics never see, and only the client knows when a token was really shown.',
  'Goodput counts the turns that finished and met every latency objective. A service can answer every request and still fail its users when too many replies start late or crawl along token by token.',
  'Dropped streams hurt more than slow ones. When a connection resets halfway through an answer, the user has read half a thought and must ask again, so drops belong on the same dashboard as latency.',
  'For voice, the moment that counts is the first audible sound of the reply. Network jitter is absorbed by a playout buffer, which trades a little extra delay for speech without clicks or silent gaps.',
];

/** A reply's words, each with its leading space, as a tokenizer would split them. */
const TOKENIZED = ANSWERS.map((answer) => answer.split(' ').map((word, i) => (i ? ' ' + word : word)));

/** Where a streamed reply goes: one transport's wire format. */
interface Sink {
  content(token: string, index: number): void;
  end(tokens: number): void;
  /** The connection fails mid-reply. */
  drop(): void;
}

/** Streams one reply into `sink` on the profile's schedule; returns a function that stops it. */
function stream(profile: Profile, sink: Sink): () => void {
  const tokens = TOKENIZED[Math.floor(Math.random() * TOKENIZED.length)];
  const n = tokens.length;
  // A drop lands in the middle of the reply, after some content (-1: this reply does not drop).
  const dropAt = Math.random() < profile.drop ? Math.floor(uniform(0.2, 0.8) * n) : -1;
  let i = 0;
  let timer: NodeJS.Timeout | undefined;
  const next = () => {
    if (i === dropAt) return sink.drop();
    if (i === n) return sink.end(n);
    sink.content(tokens[i], i);
    i++;
    timer = setTimeout(next, profile.gap());
  };
  timer = setTimeout(next, profile.ttft());
  return () => clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// POST /v1/chat/completions: OpenAI chat completions over Server-Sent Events

interface ChatRequest {
  profile?: unknown;
  stream_options?: { include_usage?: unknown };
  messages?: Array<{ content?: unknown }>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) reject(new Error('request body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const apiError = (message: string) => ({ error: { message, type: 'invalid_request_error' } });

async function chatCompletions(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  let request: ChatRequest;
  try {
    const body = await readBody(req);
    request = (body ? JSON.parse(body) : {}) as ChatRequest;
    if (typeof request !== 'object' || request === null) throw new Error('the body must be a JSON object');
  } catch (error) {
    return sendJson(res, 400, apiError(`invalid request: ${(error as Error).message}`));
  }
  const asked = url.searchParams.get('profile') ?? request.profile;
  const name = typeof asked === 'string' || asked === undefined ? profileOf(asked) : undefined;
  if (!name) return sendJson(res, 400, apiError(unknownProfile(asked)));

  const id = `chatcmpl-${Math.random().toString(36).slice(2, 14)}`;
  const created = Math.floor(Date.now() / 1000);
  const promptTokens = JSON.stringify(request.messages ?? []).length >> 2;
  const includeUsage = request.stream_options?.include_usage === true;
  const event = (choices: unknown[], usage?: unknown) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: MODEL, choices, ...(usage ? { usage } : {}) })}\n\n`;
  const choice = (delta: object, finish: string | null) => ({ index: 0, delta, logprobs: null, finish_reason: finish });

  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  // Headers now, content later: the page sees its first byte well before its first token.
  res.flushHeaders();
  const stop = stream(PROFILES[name], {
    content(token, index) {
      if (index === 0) res.write(event([choice({ role: 'assistant', content: '', refusal: null }, null)]));
      res.write(event([choice({ content: token }, null)]));
    },
    end(tokens) {
      res.write(event([choice({}, 'stop')]));
      if (includeUsage) {
        const usage = { prompt_tokens: promptTokens, completion_tokens: tokens, total_tokens: promptTokens + tokens };
        res.write(event([], usage));
      }
      res.end('data: [DONE]\n\n');
    },
    drop: () => res.socket?.resetAndDestroy(),
  });
  res.on('close', stop);
}

// ---------------------------------------------------------------------------------------------
// WS /realtime: OpenAI Realtime events

const SAMPLE_RATE = 24_000;
/** Audio sent with each transcript word. */
const WORD_AUDIO_MS = 200;
const WORD_SAMPLES = (SAMPLE_RATE * WORD_AUDIO_MS) / 1000;
/** Formants (Hz) of the vowels the synthetic voice cycles through: a, e, i, o, u. */
const VOWELS = [
  [730, 1090, 2440],
  [530, 1840, 2480],
  [270, 2290, 3010],
  [570, 840, 2410],
  [300, 870, 2240],
];

/**
 * One syllable per word of speech-like PCM16 (24 kHz mono, base64, the Realtime API's default
 * format): a gliding voice pitch whose harmonics are shaped by a vowel's formants, under an
 * attack-release envelope. Computed once at startup, so sending audio costs no work per message.
 */
function synthesizeSyllables(): string[] {
  return VOWELS.map((formants, v) => {
    const pcm = Buffer.alloc(WORD_SAMPLES * 2);
    let phase = 0;
    for (let s = 0; s < WORD_SAMPLES; s++) {
      const t = s / SAMPLE_RATE;
      const f0 = 150 + 12 * v - 40 * t;
      phase += (2 * Math.PI * f0) / SAMPLE_RATE;
      let x = 0;
      for (let k = 1; k * f0 < 4000; k++) {
        let gain = 0;
        for (const f of formants) gain += 1 / (1 + ((k * f0 - f) / 90) ** 2);
        x += (gain / k) * Math.sin(k * phase);
      }
      const envelope = Math.min(1, t / 0.015, Math.max(0, (WORD_AUDIO_MS / 1000 - t) / 0.05));
      pcm.writeInt16LE(Math.round(Math.max(-1, Math.min(1, 0.6 * x * envelope)) * 32767), s * 2);
    }
    return pcm.toString('base64');
  });
}

const SYLLABLES = synthesizeSyllables();

let eventSeq = 0;
const eventId = () => `event_${(++eventSeq).toString(36)}`;

function realtimeSession(ws: WebSocket, profileName: ProfileName): void {
  const send = (event: Record<string, unknown>) => ws.send(JSON.stringify({ event_id: eventId(), ...event }));
  let stop: (() => void) | undefined;
  send({ type: 'session.created', session: { object: 'realtime.session', model: MODEL, output_modalities: ['text'] } });

  const respond = (audio: boolean) => {
    const responseId = `resp_${Math.random().toString(36).slice(2, 14)}`;
    const response = (status: string, extra: object = {}) => ({ id: responseId, object: 'realtime.response', status, ...extra });
    const item = { response_id: responseId, item_id: `item_${responseId.slice(5)}`, output_index: 0, content_index: 0 };
    send({ type: 'response.created', response: response('in_progress') });
    stop = stream(PROFILES[profileName], {
      content(token, index) {
        if (!audio) return send({ type: 'response.output_text.delta', ...item, delta: token });
        send({ type: 'response.output_audio.delta', ...item, delta: SYLLABLES[index % SYLLABLES.length] });
        send({ type: 'response.output_audio_transcript.delta', ...item, delta: token });
      },
      end(tokens) {
        stop = undefined;
        const usage = { total_tokens: tokens, input_tokens: 0, output_tokens: tokens };
        send({ type: 'response.done', response: response('completed', { usage }) });
      },
      drop: () => ws.close(1011, 'server error'),
    });
  };

  ws.on('message', (data: RawData) => {
    let event: { type?: unknown; response?: { output_modalities?: unknown; modalities?: unknown } };
    try {
      event = JSON.parse(data.toString());
    } catch {
      return send({ type: 'error', error: { type: 'invalid_request_error', message: 'events must be JSON' } });
    }
    if (event.type !== 'response.create') return;
    if (stop) {
      const message = 'a response is already in progress on this session';
      return send({ type: 'error', error: { type: 'invalid_request_error', code: 'conversation_already_has_active_response', message } });
    }
    const modalities = event.response?.output_modalities ?? event.response?.modalities;
    respond(Array.isArray(modalities) && modalities.includes('audio'));
  });
  ws.on('close', () => stop?.());
}

// ---------------------------------------------------------------------------------------------
// Static files and routing

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

const PAGES: Record<string, string> = {
  '/': join(ROOT, 'demo', 'index.html'),
  '/app.js': join(ROOT, 'demo', 'app.js'),
};

async function sendFile(res: ServerResponse, path: string): Promise<void> {
  let body: Buffer;
  try {
    body = await readFile(path);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(path.startsWith(DIST) ? 'Not built yet: run `npm run build` (npm run demo does it first).\n' : 'Not found\n');
    return;
  }
  // No caching: a rebuild shows up on the next reload.
  res.writeHead(200, { 'content-type': MIME[extname(path)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
  res.end(body);
}

function staticPath(pathname: string): string | undefined {
  if (PAGES[pathname]) return PAGES[pathname];
  if (!pathname.startsWith('/dist/')) return undefined;
  const path = resolve(DIST, '.' + decodeURIComponent(pathname.slice('/dist'.length)));
  return path.startsWith(DIST + sep) ? path : undefined;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', `http://${HOST}`);
  if (url.pathname === '/v1/chat/completions') {
    if (req.method === 'POST') return void chatCompletions(req, res, url);
    res.writeHead(405, { allow: 'POST' });
    return void res.end();
  }
  const path = req.method === 'GET' || req.method === 'HEAD' ? staticPath(url.pathname) : undefined;
  if (path) return void sendFile(res, path);
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('Not found\n');
}

// ---------------------------------------------------------------------------------------------
// Start and stop

/** A startup problem the user can fix: one line on stderr, no stack trace. */
function fail(message: string): never {
  console.error(`earshot demo: ${message}`);
  process.exit(1);
}

function portFromEnv(): number {
  const value = process.env.PORT;
  if (value === undefined || value === '') return DEFAULT_PORT;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`PORT must be a port number from 1 to 65535, not "${value}".`);
  return port;
}

const port = portFromEnv();
const server = createServer(handle);
const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', `http://${HOST}`);
  if (url.pathname !== '/realtime') return void socket.destroy();
  const name = profileOf(url.searchParams.get('profile'));
  wss.handleUpgrade(req, socket, head, (ws) => {
    // 1008: policy violation, the closest standard code to "bad parameters".
    if (!name) return ws.close(1008, unknownProfile(url.searchParams.get('profile')).slice(0, 120));
    realtimeSession(ws, name);
  });
});

server.on('error', (error: NodeJS.ErrnoException) => {
  const other = port === 65535 ? port - 1 : port + 1;
  if (error.code === 'EADDRINUSE') {
    fail(`port ${port} is already in use. Stop what is using it, or choose another port: PORT=${other} npm run demo`);
  }
  if (error.code === 'EACCES') fail(`no permission to listen on port ${port}. Choose a port above 1023: PORT=${DEFAULT_PORT} npm run demo`);
  fail(`cannot listen on ${HOST}:${port}: ${error.message}`);
});

server.listen(port, HOST, () => {
  if (!existsSync(join(DIST, 'earshot.js'))) {
    console.warn('earshot demo: dist/earshot.js is missing, run `npm run build` first (npm run demo does both).');
  }
  console.log(`earshot demo: open http://${HOST}:${port}/ in your browser (Ctrl-C to stop)`);
});

let stopping = false;
function shutdown(): void {
  // Ctrl-C reaches npm, tsx and this process together: the first signal is enough.
  if (stopping) return;
  stopping = true;
  // 1001: going away. The page sees its sessions end the way a server restart ends them.
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  server.close(() => {
    console.log('earshot demo: stopped');
    process.exit(0);
  });
  // Streams in flight and idle keep-alive connections end now rather than when the browser lets go.
  server.closeAllConnections();
}

process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
