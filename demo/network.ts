/**
 * The network the page's streams cross, as the Playwright kit shapes it: a request or WebSocket
 * upgrade whose URL says `net=wifi|cellular|lossy` is sent through an in-process shaping proxy with
 * that profile (each message, both ways, held for a delay drawn from latency ± jitter behind a link
 * of limited bandwidth, in order), which hands it back to this server marked as shaped. `net=none`,
 * or no `net`, is the loopback as it is.
 */
import { request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { startShapingProxy, type ShapingOptions, type ShapingProxy } from '../src/playwright/shaping';

const NETWORK_NAMES = ['none', 'wifi', 'cellular', 'lossy'] as const;
export type NetworkName = (typeof NETWORK_NAMES)[number];

/** One-way conditions of each profile (a request and its reply each pay them). */
const NETWORKS: Record<Exclude<NetworkName, 'none'>, ShapingOptions> = {
  // A home access point: a few ms, a little jitter.
  wifi: { latencyMs: 6, jitterMs: 5 },
  // 4G on the move: tens of ms with as much jitter, a few Mbit/s.
  cellular: { latencyMs: 45, jitterMs: 35, bandwidthKbps: 5000 },
  // A lossy link as TCP delivers it: retransmissions hold later messages back, so they come in bursts.
  lossy: { latencyMs: 40, jitterMs: 140, bandwidthKbps: 2000 },
};

/** The header a shaped request carries back to this server: its network, so it is not shaped twice. */
const SHAPED = 'x-earshot-demo-network';

export function networkOf(url: URL): NetworkName | undefined {
  const name = url.searchParams.get('net') ?? 'none';
  return (NETWORK_NAMES as readonly string[]).includes(name) ? (name as NetworkName) : undefined;
}

export const unknownNetwork = (url: URL): string =>
  `unknown network "${url.searchParams.get('net')}": use one of ${NETWORK_NAMES.join(', ')}`;

export interface Network {
  /** Sends a request through its network's proxy: false when it is to be served here as it is. */
  http(req: IncomingMessage, res: ServerResponse, name: NetworkName): boolean;
  /** The same for a WebSocket upgrade. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, name: NetworkName): boolean;
  close(): Promise<void>;
}

/** A proxy per shaped profile, each forwarding to `origin` (this server). */
export async function startNetwork(origin: string): Promise<Network> {
  const entries = await Promise.all(
    Object.entries(NETWORKS).map(async ([name, options]) => [name, await startShapingProxy({ ...options, target: origin })] as const),
  );
  const proxies = new Map<string, ShapingProxy>(entries);
  /** The proxy of a request that has not been through it yet. */
  const proxyOf = (req: IncomingMessage, name: NetworkName) => (req.headers[SHAPED] ? undefined : proxies.get(name));
  return {
    http(req, res, name) {
      const proxy = proxyOf(req, name);
      if (proxy) forwardHttp(req, res, proxy.port, { [SHAPED]: name });
      return !!proxy;
    },
    upgrade(req, socket, head, name) {
      const proxy = proxyOf(req, name);
      if (proxy) forwardUpgrade(req, socket, head, proxy.port, name);
      return !!proxy;
    },
    close: () => Promise.all([...proxies.values()].map((p) => p.close())).then(() => undefined),
  };
}

/**
 * Forwards an HTTP exchange to 127.0.0.1:`port` and streams the reply back chunk by chunk, each as
 * it comes. A reply cut short is cut short here too, so a reset upstream reaches the browser as one.
 */
export function forwardHttp(req: IncomingMessage, res: ServerResponse, port: number, headers: OutgoingHttpHeaders = {}): void {
  const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: { ...hopless(req.headers), ...headers } });
  upstream.setNoDelay(true);
  upstream.on('response', (reply) => {
    res.writeHead(reply.statusCode ?? 502, reply.statusMessage, hopless(reply.headers));
    res.flushHeaders();
    reply.on('data', (chunk: Buffer) => res.write(chunk));
    reply.on('end', () => res.end());
    reply.on('error', () => res.destroy());
    reply.on('close', () => reply.complete || res.destroy());
  });
  upstream.on('error', () => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' }).end('upstream unavailable\n');
  });
  req.on('error', () => upstream.destroy());
  req.pipe(upstream);
  res.on('close', () => res.writableFinished || upstream.destroy());
}

/** Headers that describe one hop, not the message: each connection sets its own. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function hopless(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

/** Forwards a WebSocket upgrade to the proxy, marked as shaped, and relays both ways as bytes. */
function forwardUpgrade(req: IncomingMessage, client: Duplex, head: Buffer, port: number, network: string): void {
  const upstream: Socket = connect(port, '127.0.0.1');
  upstream.setNoDelay(true);
  (client as Socket).setNoDelay?.(true);
  let request = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  for (let i = 0; i < req.rawHeaders.length; i += 2) request += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
  upstream.write(`${request}${SHAPED}: ${network}\r\n\r\n`);
  if (head.length) upstream.write(head);
  client.pipe(upstream);
  upstream.pipe(client);
  // A reset on one side is a reset on the other: the browser must see a drop as a drop.
  upstream.on('error', () => (client as Socket).resetAndDestroy?.() ?? client.destroy());
  client.on('error', () => upstream.resetAndDestroy());
  upstream.on('close', () => client.writableEnded || client.destroy());
  client.on('close', () => upstream.writableEnded || upstream.destroy());
}
