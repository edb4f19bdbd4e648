/**
 * The earshot demo: a web voice agent measured with earshot, and what earshot sees of it.
 *
 *   GET  /                        the demo page (demo/index.html and demo/*.js, bundled by Vite at startup)
 *   GET  /dist/*                  the SDK as built by `npm run build` (the player's worklet loads from here)
 *   GET  /voice/*.wav             the user's spoken questions (demo/voice)
 *   WS   /v1/stt, /v1/tts         streaming speech-to-text and text-to-speech  } see demo/agent.ts
 *   POST /v1/chat/completions     OpenAI chat completions over SSE            }
 *   POST /v1/traces, /v1/metrics, /v1/logs, GET /api/*
 *                                 the embedded OTLP receiver (demo/receiver.ts), where the page and
 *                                 this server both export their spans: /api/traces/<trace id>
 *                                 answers every span of a trace, client and server
 *
 * Every stream takes `?profile=fast|realistic|overloaded|flaky` (the agent's latency) and
 * `?net=none|wifi|cellular|lossy` (the network it crosses, shaped by demo/network.ts).
 *
 * `PORT` chooses the port (default 5173). Ctrl-C or SIGTERM closes every socket and exits 0.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tracer } from '@opentelemetry/api';
import type { Rollup } from 'vite';
import { WebSocketServer } from 'ws';
import { createAgent, profileOf, unknownProfile, type Agent } from './agent';
import { forwardHttp, networkOf, startNetwork, unknownNetwork, type Network } from './network';
import type { Receiver } from './receiver';

const DEMO = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(DEMO, '..');
const DIST = join(ROOT, 'dist');
const VOICE = join(DEMO, 'voice');
// Loopback only: the demo's endpoints are for this machine's browser, not the network.
const HOST = '127.0.0.1';
const DEFAULT_PORT = 5173;
const SERVICE = 'earshot-demo-agent';
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** Spans leave for the receiver this soon after they end, so a turn's trace is whole within a second. */
const EXPORT_DELAY_MS = 200;
/** Ctrl-C waits this long at most for the last spans and sockets. */
const STOP_TIMEOUT_MS = 2000;

// ---------------------------------------------------------------------------------------------
// The page: bundled in memory at startup, with earshot resolved to its build

interface Asset {
  body: string | Uint8Array;
  type: string;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wav': 'audio/wav',
};

async function buildPage(): Promise<Map<string, Asset>> {
  // Vite, the receiver and the OpenTelemetry SDK load once the port is ours: a port in use is told at once.
  const { build } = await import('vite');
  // earshot/otel from its build once the build has it, from source until then.
  const otel = existsSync(join(DIST, 'otel.js')) ? join(DIST, 'otel.js') : join(ROOT, 'src/otel.ts');
  const output = (await build({
    configFile: false,
    logLevel: 'warn',
    root: DEMO,
    base: '/',
    resolve: {
      alias: [
        { find: /^earshot$/, replacement: join(DIST, 'earshot.js') },
        { find: /^earshot\/otel$/, replacement: otel },
        { find: /^earshot\/(jitter-buffer|slo|text)$/, replacement: join(DIST, '$1.js') },
      ],
    },
    build: {
      write: false,
      emptyOutDir: false,
      minify: false,
      target: 'es2022',
      reportCompressedSize: false,
      rollupOptions: { input: join(DEMO, 'index.html') },
    },
  })) as Rollup.RollupOutput | Rollup.RollupOutput[];
  const assets = new Map<string, Asset>();
  for (const item of [output].flat().flatMap((o) => o.output)) {
    const type = MIME[extname(item.fileName)] ?? 'application/octet-stream';
    assets.set(`/${item.fileName}`, { body: item.type === 'chunk' ? item.code : item.source, type });
  }
  assets.set('/', assets.get('/index.html')!);
  return assets;
}

/** A file under `dir` named by the rest of the path, or undefined for anything outside it. */
function fileUnder(dir: string, rest: string): string | undefined {
  const path = resolve(dir, '.' + decodeURIComponent(rest));
  return path.startsWith(dir + sep) ? path : undefined;
}

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

// ---------------------------------------------------------------------------------------------
// Routing

interface Services {
  page: Map<string, Asset>;
  agent: Agent;
  network: Network;
  receiver: Receiver;
}

const OTLP = /^\/(v1\/(traces|metrics|logs)|api\/.*)$/;

function sendError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message, type: 'invalid_request_error' } }));
}

function handle(s: Services, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', `http://${HOST}`);
  if (OTLP.test(url.pathname)) return forwardHttp(req, res, s.receiver.port);
  if (url.pathname === '/v1/chat/completions') {
    const profile = profileOf(url);
    const net = networkOf(url);
    if (!profile) return sendError(res, 400, unknownProfile(url));
    if (!net) return sendError(res, 400, unknownNetwork(url));
    if (s.network.http(req, res, net)) return;
    if (req.method === 'POST') return s.agent.chat(req, res, profile);
    res.writeHead(405, { allow: 'POST' });
    return void res.end();
  }
  if (req.method === 'GET' || req.method === 'HEAD') {
    const asset = s.page.get(url.pathname);
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-store' });
      return void res.end(asset.body);
    }
    const path = url.pathname.startsWith('/dist/')
      ? fileUnder(DIST, url.pathname.slice('/dist'.length))
      : url.pathname.startsWith('/voice/') && url.pathname.endsWith('.wav')
        ? fileUnder(VOICE, url.pathname.slice('/voice'.length))
        : undefined;
    if (path) return void sendFile(res, path);
  }
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
const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
let services: Services | undefined;
const server = createServer({ noDelay: true }, (req, res) => {
  // The URL is printed once everything is up; a request before that has nothing to talk to.
  if (services) return handle(services, req, res);
  res.writeHead(503, { 'retry-after': '1' }).end();
});

server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url ?? '/', `http://${HOST}`);
  const endpoint = url.pathname === '/v1/stt' ? 'stt' : url.pathname === '/v1/tts' ? 'tts' : undefined;
  const s = services;
  if (!endpoint || !s) return void socket.destroy();
  const profile = profileOf(url);
  const net = networkOf(url);
  if (net && s.network.upgrade(req, socket, head, net)) return;
  wss.handleUpgrade(req, socket, head, (ws) => {
    // 1008: policy violation, the closest standard code to "bad parameters".
    if (!profile || !net) return ws.close(1008, (profile ? unknownNetwork(url) : unknownProfile(url)).slice(0, 120));
    s.agent[endpoint](ws, profile);
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

/** The agent's tracer, exporting to the receiver; `shutdown` sends what is left. */
async function startTracing(receiver: Receiver): Promise<{ tracer: Tracer; shutdown(): Promise<void> }> {
  const [{ OTLPTraceExporter }, { resourceFromAttributes }, { BatchSpanProcessor, NodeTracerProvider }] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-node'),
  ]);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': SERVICE, 'service.version': VERSION }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` }), { scheduledDelayMillis: EXPORT_DELAY_MS })],
  });
  return { tracer: provider.getTracer(SERVICE, VERSION), shutdown: () => provider.shutdown() };
}

let tracing: { shutdown(): Promise<void> } | undefined;

server.listen(port, HOST, async () => {
  if (!existsSync(join(DIST, 'earshot.js'))) fail('dist/earshot.js is missing: run `npm run build` first (npm run demo does both).');
  const origin = `http://${HOST}:${port}`;
  try {
    const exporting = import('./receiver').then(async ({ startReceiver }) => {
      const receiver = await startReceiver();
      return { receiver, agentTracing: await startTracing(receiver) };
    });
    const [page, network, { receiver, agentTracing }] = await Promise.all([buildPage(), startNetwork(origin), exporting]);
    tracing = agentTracing;
    services = { page, agent: createAgent(agentTracing.tracer), network, receiver };
  } catch (error) {
    fail(`cannot start: ${(error as Error).message}`);
  }
  if (stopping) return;
  console.log(`earshot demo: open ${origin}/ in your browser (Ctrl-C to stop)`);
});

let stopping = false;
async function shutdown(): Promise<void> {
  // Ctrl-C reaches npm, tsx and this process together: the first signal is enough.
  if (stopping) return;
  stopping = true;
  // 1001: going away. The page sees its sessions end the way a server restart ends them.
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  server.close();
  // Streams in flight and idle keep-alive connections end now rather than when the browser lets go.
  server.closeAllConnections();
  const s = services;
  // The last spans go to the receiver before it closes.
  const done = Promise.allSettled([s?.network.close(), tracing?.shutdown()]).then(() => s?.receiver.close());
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS))]);
  console.log('earshot demo: stopped');
  process.exit(0);
}

process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
