/**
 * Test server for e2e/otel.spec.ts and e2e/exemplars.spec.ts: an app's backend, traced with `@opentelemetry/sdk-trace-node`
 * and exporting every span as it ends to the embedded OTLP receiver, so client and server spans meet
 * in one store. It reads the browser's trace context with `earshot/server` from whichever carrier
 * the transport used, and hands its span back in `Server-Timing`.
 *
 *   GET /<file>                    the built test app (`root`)
 *   GET /sse?n=5&gap=10&infer=30   `infer` ms of "inference", then the headers (with Server-Timing)
 *                                  and n chat-completion SSE events `gap` ms apart, then [DONE];
 *                                  one SERVER span `sse turn` per request
 *   GET /echo                      { traceparent } as received (null when none came)
 *   WS  /ws                        one SERVER span `ws connection` per socket; each JSON request
 *                                  `{"type":"req","n":3,"gap":10}` gets a `ws turn` span and n
 *                                  `{"type":"delta"}` then `{"type":"done"}`
 * The same app listens on a second origin (another port) for cross-origin requests; CORS allows the
 * page's origin, the trace headers, and reading Server-Timing.
 *
 * `startOtelApp` builds the test app (e2e/pages/otel.html) and serves it here, with the embedded
 * OTLP receiver as the collector of both sides.
 */
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import type { Page } from '@playwright/test';
import { build } from 'vite';
import { WebSocketServer, type WebSocket } from 'ws';
import { startReceiver, type Receiver } from '../demo/receiver';
import type { SloOptions, TurnReport } from '../src/core/types';
import {
  appendServerTiming,
  contextFromHeaders,
  contextFromMessage,
  contextFromProtocols,
  contextFromUrl,
  serverTiming,
} from '../src/server';

export const SERVER_SERVICE = 'earshot-e2e-backend';

export interface OtelServer {
  /** The page's origin, e.g. http://127.0.0.1:40123. */
  readonly origin: string;
  /** The same app on another port: another origin. */
  readonly secondOrigin: string;
  close(): Promise<void>;
}

const MIME: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const number = (url: URL, key: string, fallback: number) => {
  const n = Number(url.searchParams.get(key));
  return url.searchParams.has(key) && Number.isFinite(n) ? n : fallback;
};

export async function startOtelServer(options: { collector: string; root: string }): Promise<OtelServer> {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': SERVER_SERVICE }),
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${options.collector}/v1/traces` }))],
  });
  const tracer = provider.getTracer('earshot-e2e-backend');
  const serverSpan = (name: string, parent: Context) => tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);

  function cors(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    if (!origin) return;
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-allow-headers', 'traceparent, tracestate, content-type');
    res.setHeader('access-control-expose-headers', 'server-timing');
    res.setHeader('vary', 'origin');
  }

  async function sse(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const span = serverSpan('sse turn', contextFromHeaders(req.headers));
    const infer = number(url, 'infer', 0);
    await sleep(infer);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      'server-timing': appendServerTiming(serverTiming(span), 'inference', infer),
    });
    const n = number(url, 'n', 5);
    const gap = number(url, 'gap', 10);
    for (let i = 0; i < n && !res.destroyed; i++) {
      if (i > 0) await sleep(gap);
      res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: `w${i} ` } }] })}\n\n`);
    }
    res.end('data: [DONE]\n\n');
    span.end();
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    cors(req, res);
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
    } else if (url.pathname === '/sse') {
      await sse(req, res, url);
    } else if (url.pathname === '/echo') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ traceparent: req.headers.traceparent ?? null }));
    } else {
      const file = normalize(join(options.root, url.pathname === '/' ? 'index.html' : url.pathname));
      try {
        if (!file.startsWith(options.root)) throw new Error('outside the root');
        const body = await readFile(file);
        res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    }
  }

  function onSocket(ws: WebSocket, req: IncomingMessage): void {
    // Per connection: the URL query, or else the protocol entry.
    const fromUrl = contextFromUrl(req.url);
    const parent = trace.getSpanContext(fromUrl) ? fromUrl : contextFromProtocols(req.headers['sec-websocket-protocol']).context;
    const connection = serverSpan('ws connection', parent);
    ws.on('message', async (data) => {
      let message: { type?: string; n?: number; gap?: number };
      try {
        message = JSON.parse(String(data)) as typeof message;
      } catch {
        return;
      }
      if (message.type !== 'req') return;
      // Per turn: the request message, or else the connection.
      const fromMessage = contextFromMessage(message);
      const turn: Span = serverSpan('ws turn', trace.getSpanContext(fromMessage) ? fromMessage : trace.setSpan(parent, connection));
      for (let i = 0; i < (message.n ?? 3); i++) {
        await sleep(message.gap ?? 10);
        if (ws.readyState !== ws.OPEN) break;
        ws.send(JSON.stringify({ type: 'delta', text: `w${i}` }));
      }
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'done' }));
      turn.end();
    });
    ws.on('close', () => connection.end());
  }

  const servers: Array<[Server, WebSocketServer]> = [];
  const listen = async () => {
    const server = createServer((req, res) => void handle(req, res));
    const wss = new WebSocketServer({
      server,
      path: '/ws',
      // Answer with the app's first protocol, never the trace entry (none offered: no protocol).
      handleProtocols: (offered) => contextFromProtocols(offered).protocols[0] ?? false,
    });
    wss.on('connection', onSocket);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push([server, wss]);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const origin = await listen();
  const secondOrigin = await listen();
  return {
    origin,
    secondOrigin,
    async close() {
      for (const [server, wss] of servers) {
        // Upgraded sockets are the WebSocket server's, no longer the HTTP server's.
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await provider.shutdown();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The test app, built and served

const ROOT = resolve(import.meta.dirname, '..');

/** How the page sets earshot up (`window.app.setup`). */
export interface Setup {
  service: string;
  collector?: string;
  allow?: string[];
  carrier?: 'query' | 'protocol' | 'none';
  messageField?: string;
  exportTimeoutMs?: number;
  metricIntervalMs?: number;
  patch?: boolean;
  logs?: boolean;
  slo?: SloOptions;
}

/** What the page offers the specs. */
export interface App {
  setup(o: Setup): void;
  fetchText(url: string): Promise<string>;
  ws(url: string, protocols: string[], requests: Array<{ n: number; gap: number }>): Promise<string>;
  concurrent(url: string, count: number): Promise<number>;
  startStream(url: string): Promise<void>;
  flush(): Promise<void>;
  dropped(): number;
  reports(): TurnReport[];
  summary(): { turns: { started: number }; connections: { opened: number } };
  internalErrors(): number;
}
declare global {
  interface Window {
    app: App;
  }
}

/**
 * The built `earshot/otel` entry: dist/otel.js, or while the library build does not list the entry,
 * the same build (the project's Vite config, minified and mangled as shipped) of this entry into a
 * scratch directory.
 */
async function builtOtelEntry(): Promise<string> {
  const shipped = join(ROOT, 'dist/otel.js');
  if (existsSync(shipped)) return shipped;
  const lib = join(ROOT, 'e2e/artifacts/otel-lib');
  await build({
    configFile: join(ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    root: ROOT,
    build: { outDir: lib, emptyOutDir: true, lib: { entry: { otel: join(ROOT, 'src/otel.ts') } } },
  });
  return join(lib, 'otel.js');
}

export interface OtelApp {
  readonly receiver: Receiver;
  readonly server: OtelServer;
  /** Opens the app and sets earshot up in it, exporting to the receiver; returns the page's uncaught errors, as they come. */
  open(page: Page, setup: Setup): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * The test app bundled by Vite (`earshot` and `earshot/otel` resolved to the built entries) into
 * e2e/artifacts/<name> (one directory per spec file, so they may run at once), served by this
 * server, both sides exporting to a new embedded OTLP receiver.
 */
export async function startOtelApp(name: string): Promise<OtelApp> {
  const out = join(ROOT, 'e2e/artifacts', name);
  const otelEntry = await builtOtelEntry();
  await build({
    configFile: false,
    logLevel: 'warn',
    root: join(ROOT, 'e2e/pages'),
    base: './',
    resolve: {
      alias: [
        { find: /^earshot$/, replacement: join(ROOT, 'dist/earshot.js') },
        { find: /^earshot\/otel$/, replacement: otelEntry },
      ],
    },
    build: { outDir: out, emptyOutDir: true, minify: false, rollupOptions: { input: join(ROOT, 'e2e/pages/otel.html') } },
  });
  const receiver = await startReceiver();
  const server = await startOtelServer({ collector: receiver.url, root: out });
  return {
    receiver,
    server,
    async open(page, setup) {
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(`${server.origin}/otel.html`);
      await page.waitForFunction(() => typeof window.app?.setup === 'function');
      await page.evaluate((o) => window.app.setup(o), { collector: receiver.url, ...setup });
      return errors;
    },
    async close() {
      await server.close();
      await receiver.close();
    },
  };
}
