/**
 * A local shaping proxy for latency tests: it forwards HTTP (streamed bodies chunk by chunk) and
 * WebSocket frames between the browser and a server, holding each message for a delay drawn from a
 * seeded distribution, in order. Chromium's own throttling (CDP) delays a response's headers and
 * caps throughput, but cannot vary the delay per chunk or per frame: this is what adds jitter.
 *
 * Node only; it listens on the loopback interface and forwards to the one target it is given.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';

export interface ShapingOptions {
  /** Delay added to every message in each direction, ms (one way: a request and its reply pay it twice). Default 0. */
  latencyMs?: number;
  /** Each message's delay is drawn uniformly from latencyMs ± jitterMs (never below 0). Default 0. */
  jitterMs?: number;
  /** Capacity of each direction, kilobits per second, shared by every connection. Default unlimited. */
  bandwidthKbps?: number;
  /** Seed of the delay draws: the same seed gives the same sequence of delays. Default 1. */
  seed?: number;
}

export interface ShapingProxyOptions extends ShapingOptions {
  /** Origin to forward to, e.g. `http://127.0.0.1:8080` (plain HTTP and WebSocket). */
  target: string | URL;
  /** Port to listen on (loopback only); default a free one. */
  port?: number;
  /** Called as each message is scheduled: what was delayed, and by how much. */
  onMessage?: (message: ShapedMessage) => void;
}

export type Direction = 'up' | 'down';

export interface ShapedMessage {
  /** `up`: browser to server; `down`: server to browser. */
  direction: Direction;
  /** An HTTP request or response head, a body chunk, a WebSocket handshake or frame. */
  kind: 'head' | 'chunk' | 'frame';
  bytes: number;
  /** performance.now() (Node) when the proxy received it. */
  arrivedAt: number;
  /** When it is forwarded: arrival + transmission + delay, held back behind the message before it. */
  deliverAt: number;
  /** The delay drawn for it, ms. */
  delayMs: number;
}

export interface ShapingProxy {
  /** `http://127.0.0.1:<port>`: use it in place of the target's origin (`ws://` for WebSockets). */
  readonly url: string;
  readonly port: number;
  /** New conditions for messages that arrive from now on (the seed's sequence continues). */
  set(options: Omit<ShapingOptions, 'seed'>): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** mulberry32: small, fast, and good enough to draw delays reproducibly. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function check(name: string, value: number | undefined): number | undefined {
  if (value !== undefined && !(typeof value === 'number' && value >= 0 && value < Infinity)) {
    throw new RangeError(`earshot: ${name} must be a finite number >= 0 (got ${String(value)})`);
  }
  return value;
}

/**
 * One direction of the shaped network, driven by explicit time: a transmitter of the given
 * bandwidth (messages queue behind each other) followed by a delay line with jitter. Pure, so the
 * delay distribution is tested without a clock.
 */
export class Link {
  #latency = 0;
  #jitter = 0;
  /** Kilobits per second = bits per ms. */
  #kbps = Infinity;
  #busyUntil = -Infinity;
  readonly #random: () => number;

  constructor(options: ShapingOptions = {}) {
    this.#random = random(check('seed', options.seed) ?? 1);
    this.set(options);
  }

  set(options: Omit<ShapingOptions, 'seed'>): void {
    this.#latency = check('latencyMs', options.latencyMs) ?? 0;
    this.#jitter = check('jitterMs', options.jitterMs) ?? 0;
    this.#kbps = check('bandwidthKbps', options.bandwidthKbps) || Infinity;
  }

  /** The next delay drawn: uniform in latency ± jitter, floored at 0. */
  delay(): number {
    return Math.max(0, this.#latency + this.#jitter * (2 * this.#random() - 1));
  }

  /**
   * When a message of `bytes` that arrived at `now` is delivered, drawing its delay: after its
   * transmission (behind earlier messages on this link) plus the delay, and never before
   * `notBefore`, the delivery of the message ahead of it on the same stream, so order is kept.
   */
  schedule(bytes: number, now: number, notBefore = -Infinity): { deliverAt: number; delayMs: number } {
    const sent = Math.max(now, this.#busyUntil) + (bytes * 8) / this.#kbps;
    this.#busyUntil = sent;
    const delayMs = this.delay();
    return { deliverAt: Math.max(sent + delayMs, notBefore), delayMs };
  }
}

/**
 * One stream in one direction (an HTTP exchange's body, a socket): messages go out in order, each at
 * its scheduled time. Actions after the last message (end, destroy) run when it has been delivered.
 */
class Lane {
  readonly #queue: Array<{ at: number; run: () => void }> = [];
  #last = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly link: Link,
    private readonly direction: Direction,
    private readonly onMessage: ShapingProxyOptions['onMessage'],
  ) {}

  /** Delivers a message of `bytes` by calling `run` at its scheduled time. */
  push(kind: ShapedMessage['kind'], bytes: number, run: () => void): void {
    if (this.#closed) return;
    const arrivedAt = performance.now();
    const { deliverAt, delayMs } = this.link.schedule(bytes, arrivedAt, this.#last);
    this.#last = deliverAt;
    this.onMessage?.({ direction: this.direction, kind, bytes, arrivedAt, deliverAt, delayMs });
    this.#enqueue(deliverAt, run);
  }

  /** Runs `run` once every message pushed so far has been delivered. */
  then(run: () => void): void {
    if (!this.#closed) this.#enqueue(this.#last, run);
  }

  /** Drops whatever is still queued. */
  close(): void {
    this.#closed = true;
    this.#queue.length = 0;
    clearTimeout(this.#timer);
  }

  #enqueue(at: number, run: () => void): void {
    this.#queue.push({ at, run });
    if (this.#queue.length === 1) this.#wake();
  }

  #wake(): void {
    this.#timer = undefined;
    const queue = this.#queue;
    // Timers fire up to a millisecond off: deliver what is due within half a millisecond.
    while (queue.length && queue[0].at - performance.now() <= 0.5) queue.shift()!.run();
    if (queue.length) this.#timer = setTimeout(() => this.#wake(), queue[0].at - performance.now());
  }
}

/** Splits a WebSocket byte stream into whole frames (RFC 6455 section 5.2), payloads untouched. */
class FrameSplitter {
  #pending: Buffer | undefined;

  push(chunk: Buffer, emit: (frame: Buffer) => void): void {
    let buf = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
    for (;;) {
      const size = frameSize(buf);
      if (size === undefined || size > buf.length) break;
      emit(buf.subarray(0, size));
      buf = buf.subarray(size);
    }
    this.#pending = buf.length ? buf : undefined;
  }
}

/** Size of the frame at the start of `buf` (header and payload), or undefined while its header is incomplete. */
function frameSize(buf: Buffer): number | undefined {
  if (buf.length < 2) return undefined;
  const len7 = buf[1] & 0x7f;
  const mask = buf[1] & 0x80 ? 4 : 0;
  if (len7 < 126) return 2 + mask + len7;
  if (len7 === 126) return buf.length < 4 ? undefined : 4 + mask + buf.readUInt16BE(2);
  return buf.length < 10 ? undefined : 10 + mask + Number(buf.readBigUInt64BE(2));
}

const HEAD_END = Buffer.from('\r\n\r\n');
/** Headers that describe one hop, not the message: the proxy's own connections set them. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** The request head as it came, with Host naming the target. */
function requestHead(req: IncomingMessage, host: string): string {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i].toLowerCase() === 'host' ? host : raw[i + 1]}\r\n`;
  return head + '\r\n';
}

/** Size of a head on the wire, for the bandwidth model. */
const headBytes = (raw: readonly string[]): number => raw.reduce((n, s) => n + s.length + 2, 32);

/**
 * Starts a shaping proxy on 127.0.0.1 in front of `target`. Each message (an HTTP head, each body
 * chunk as the server wrote it, each WebSocket frame, both directions) is delayed by a draw from
 * latencyMs ± jitterMs after its transmission time at bandwidthKbps, and never overtakes the
 * message before it on the same connection. Failures pass through in order: a server reset
 * mid-stream reaches the browser as a reset after the chunks before it.
 */
export async function startShapingProxy(options: ShapingProxyOptions): Promise<ShapingProxy> {
  const target = new URL(options.target);
  if (target.protocol !== 'http:' && target.protocol !== 'ws:') {
    throw new TypeError(`earshot: the shaping proxy forwards plain HTTP and WebSocket (got ${target.protocol})`);
  }
  const host = target.hostname.replace(/^\[|\]$/g, '');
  const port = Number(target.port || 80);
  const links: Record<Direction, Link> = {
    // Two draws from one seed would correlate the directions: offset the second.
    up: new Link({ ...options, seed: (options.seed ?? 1) + 0x9e3779b9 }),
    down: new Link(options),
  };
  const lanes = new Set<Lane>();
  const sockets = new Set<Duplex>();
  const agent = new Agent({ keepAlive: true });
  const lane = (direction: Direction): Lane => {
    const l = new Lane(links[direction], direction, options.onMessage);
    lanes.add(l);
    return l;
  };
  const track = (socket: Duplex): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const forwardHttp = (req: IncomingMessage, res: ServerResponse): void => {
    const up = lane('up');
    const down = lane('down');
    const done = (): void => {
      up.close();
      down.close();
      lanes.delete(up);
      lanes.delete(down);
    };
    let upstream: ReturnType<typeof httpRequest> | undefined;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
    headers.host = target.host;
    up.push('head', headBytes(req.rawHeaders), () => {
      upstream = httpRequest({ host, port, method: req.method, path: req.url, headers, agent });
      upstream.setNoDelay(true);
      upstream.on('response', (reply) => {
        const raw: string[] = [];
        for (let i = 0; i < reply.rawHeaders.length; i += 2) {
          if (!HOP_BY_HOP.has(reply.rawHeaders[i].toLowerCase())) raw.push(reply.rawHeaders[i], reply.rawHeaders[i + 1]);
        }
        down.push('head', headBytes(reply.rawHeaders), () => {
          res.writeHead(reply.statusCode ?? 502, reply.statusMessage, raw);
          res.flushHeaders();
        });
        reply.on('data', (chunk: Buffer) => down.push('chunk', chunk.length, () => res.write(chunk)));
        reply.on('end', () => down.then(() => res.end()));
        // A reply cut short (reset, FIN mid-body) reaches the browser as a cut, after what came before it.
        reply.on('close', () => {
          if (!reply.complete) down.then(() => res.destroy());
        });
      });
      upstream.on('error', () =>
        down.then(() => {
          if (res.headersSent) res.destroy();
          else res.writeHead(502).end();
        }),
      );
    });
    req.on('data', (chunk: Buffer) => up.push('chunk', chunk.length, () => upstream?.write(chunk)));
    req.on('end', () => up.then(() => upstream?.end()));
    // The browser went away (abort, page closed): the server hears of it after what was sent before.
    res.on('close', () => {
      if (res.writableFinished) return done();
      up.then(() => {
        upstream?.destroy();
        done();
      });
    });
  };

  const forwardWebSocket = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const up = lane('up');
    const down = lane('down');
    const server: Socket = connect(port, host);
    track(server);
    server.setNoDelay(true);
    (client as Socket).setNoDelay?.(true);
    const upFrames = new FrameSplitter();
    const downFrames = new FrameSplitter();
    const toServer = (frame: Buffer): void => up.push('frame', frame.length, () => server.write(frame));
    const toClient = (frame: Buffer): void => down.push('frame', frame.length, () => client.write(frame));
    up.push('head', headBytes(req.rawHeaders), () => server.write(requestHead(req, target.host)));
    if (head.length) upFrames.push(head, toServer);
    client.on('data', (chunk: Buffer) => upFrames.push(chunk, toServer));

    // The reply's head first; after a 101 the stream is frames, otherwise (a refusal) passed as read.
    let response: Buffer | undefined = Buffer.alloc(0);
    let upgraded = false;
    const fromServer = (chunk: Buffer): void => {
      if (!response) {
        if (upgraded) downFrames.push(chunk, toClient);
        else down.push('chunk', chunk.length, () => client.write(chunk));
        return;
      }
      response = Buffer.concat([response, chunk]);
      const end = response.indexOf(HEAD_END);
      if (end < 0) return;
      const headPart = response.subarray(0, end + HEAD_END.length);
      const rest = response.subarray(end + HEAD_END.length);
      response = undefined;
      upgraded = / 101 /.test(headPart.subarray(0, headPart.indexOf('\r\n')).toString('latin1'));
      down.push('head', headPart.length, () => client.write(headPart));
      if (rest.length) fromServer(rest);
    };
    server.on('data', fromServer);
    // End and reset travel in order behind the data, each way.
    const relay = (from: Duplex, to: Duplex, l: Lane): void => {
      from.on('end', () => l.then(() => to.end()));
      from.on('error', () => l.then(() => (to as Socket).resetAndDestroy()));
      from.on('close', () => l.then(() => to.writableEnded || to.destroy()));
    };
    relay(client, server, up);
    relay(server, client, down);
    server.on('close', () => {
      lanes.delete(up);
      lanes.delete(down);
    });
  };

  const proxy = createServer({ noDelay: true }, forwardHttp);
  proxy.on('connection', track);
  proxy.on('upgrade', forwardWebSocket);
  await new Promise<void>((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const address = proxy.address();
  const listening = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${listening}`,
    port: listening,
    set(conditions) {
      links.up.set(conditions);
      links.down.set(conditions);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const l of lanes) l.close();
        for (const s of sockets) s.destroy();
        agent.destroy();
        proxy.close(() => resolve());
      }),
  };
}
