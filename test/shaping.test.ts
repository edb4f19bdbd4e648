import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { Link, startShapingProxy, type ShapedMessage, type ShapingProxy } from '../src/playwright/shaping';

describe('Link: the delay model, on explicit time', () => {
  it('draws each delay uniformly from latency ± jitter, reproducibly from its seed', () => {
    const link = new Link({ latencyMs: 100, jitterMs: 30, seed: 7 });
    const delays = Array.from({ length: 20000 }, () => link.delay());
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(70);
    expect(Math.max(...delays)).toBeLessThanOrEqual(130);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    const sd = Math.sqrt(delays.reduce((a, d) => a + (d - mean) ** 2, 0) / delays.length);
    expect(mean).toBeCloseTo(100, 0);
    // A uniform distribution of half-width 30 has standard deviation 30 / sqrt(3).
    expect(Math.abs(sd - 30 / Math.sqrt(3))).toBeLessThan(0.3);
    // Both tails are reached: the draw is not squeezed toward the middle.
    expect(delays.filter((d) => d < 73).length / delays.length).toBeCloseTo(0.05, 2);
    expect(delays.filter((d) => d > 127).length / delays.length).toBeCloseTo(0.05, 2);

    const again = new Link({ latencyMs: 100, jitterMs: 30, seed: 7 });
    expect(Array.from({ length: 5 }, () => again.delay())).toEqual(delays.slice(0, 5));
    const other = new Link({ latencyMs: 100, jitterMs: 30, seed: 8 });
    expect(other.delay()).not.toBe(delays[0]);
  });

  it('never draws a negative delay', () => {
    const link = new Link({ latencyMs: 10, jitterMs: 30, seed: 1 });
    const delays = Array.from({ length: 1000 }, () => link.delay());
    expect(Math.min(...delays)).toBe(0);
    expect(delays.filter((d) => d === 0).length).toBeGreaterThan(250);
  });

  it('queues messages behind each other at the bandwidth, then adds the delay', () => {
    // 1000 kbit/s = 1000 bits per ms: 1250 bytes take 10 ms.
    const link = new Link({ latencyMs: 50, bandwidthKbps: 1000 });
    expect(link.schedule(1250, 0)).toEqual({ deliverAt: 60, delayMs: 50 });
    expect(link.schedule(1250, 0)).toEqual({ deliverAt: 70, delayMs: 50 });
    // The link was idle from 20 ms: a message at 100 ms starts at once.
    expect(link.schedule(125, 100)).toEqual({ deliverAt: 151, delayMs: 50 });
  });

  it('keeps order: a short draw after a long one waits for it', () => {
    const link = new Link({ latencyMs: 100, jitterMs: 90, seed: 3 });
    let previous = -Infinity;
    let held = 0;
    for (let t = 0; t < 2000; t += 5) {
      const { deliverAt, delayMs } = link.schedule(100, t, previous);
      expect(deliverAt).toBeGreaterThanOrEqual(previous);
      if (deliverAt > t + delayMs) held++;
      else expect(deliverAt).toBe(t + delayMs);
      previous = deliverAt;
    }
    // With 5 ms between messages and ±90 ms of jitter, most draws are held behind an earlier one.
    expect(held).toBeGreaterThan(200);
  });

  it('rejects conditions that are not finite non-negative numbers', () => {
    expect(() => new Link({ latencyMs: -1 })).toThrow(/latencyMs/);
    expect(() => new Link({ jitterMs: NaN })).toThrow(/jitterMs/);
    expect(() => new Link({ bandwidthKbps: Infinity })).toThrow(/bandwidthKbps/);
  });
});

/** The upstream: a chunked stream and a WebSocket that answers each message with two frames. */
let upstream: Server;
let wss: WebSocketServer;
let origin: string;
const serverSaw: string[] = [];
const CHUNKS = Array.from({ length: 12 }, (_, i) => `chunk ${i};`);

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let i = 0;
      const next = () => {
        res.write(CHUNKS[i++]);
        if (i < CHUNKS.length) setTimeout(next, 2);
        else res.end();
      };
      next();
    } else if (req.url === '/reset') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('before the reset;');
      setTimeout(() => req.socket.resetAndDestroy(), 20);
    } else if (req.url === '/echo' && req.method === 'POST') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => res.end(`${req.headers.host} got ${body}`));
    } else {
      res.writeHead(404).end('no');
    }
  });
  wss = new WebSocketServer({ noServer: true });
  upstream.on('upgrade', (req, socket, head) => {
    if (req.url !== '/ws') return socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data, isBinary) => {
        const text = isBinary ? `binary ${(data as Buffer).length}` : String(data);
        serverSaw.push(text);
        ws.send(`${text} a`);
        ws.send(`${text} b`);
      });
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

async function withProxy<T>(options: { latencyMs?: number; jitterMs?: number; seed?: number }, run: (proxy: ShapingProxy, log: ShapedMessage[]) => Promise<T>): Promise<T> {
  const log: ShapedMessage[] = [];
  const proxy = await startShapingProxy({ target: origin, ...options, onMessage: (m) => log.push(m) });
  try {
    return await run(proxy, log);
  } finally {
    await proxy.close();
  }
}

/** Reads a response as the chunks the client received, or the error that ended it. */
function read(url: string): Promise<{ status: number; chunks: string[]; error?: string }> {
  return new Promise((resolve) => {
    get(url, (res: IncomingMessage) => {
      const chunks: string[] = [];
      res.on('data', (c: Buffer) => chunks.push(String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, chunks }));
      res.on('error', (e) => resolve({ status: res.statusCode ?? 0, chunks, error: e.message }));
    }).on('error', (e) => resolve({ status: 0, chunks: [], error: e.message }));
  });
}

describe('startShapingProxy', () => {
  it('forwards a streamed body chunk by chunk, in order, each delayed by the next draw of the seed', async () => {
    await withProxy({ latencyMs: 15, jitterMs: 10, seed: 42 }, async (proxy, log) => {
      const r = await read(`${proxy.url}/stream`);
      expect(r.status).toBe(200);
      expect(r.chunks.join('')).toBe(CHUNKS.join(''));
      const down = log.filter((m) => m.direction === 'down');
      expect(down.map((m) => m.kind)).toEqual(['head', ...CHUNKS.map(() => 'chunk')]);
      expect(down.slice(1).map((m) => m.bytes)).toEqual(CHUNKS.map((c) => c.length));
      // The delays are the down link's draws, in order: the same seed gives the same sequence.
      const reference = new Link({ latencyMs: 15, jitterMs: 10, seed: 42 });
      expect(down.map((m) => m.delayMs)).toEqual(down.map(() => reference.delay()));
      for (let i = 0; i < down.length; i++) {
        expect(down[i].deliverAt).toBeGreaterThanOrEqual(down[i].arrivedAt + down[i].delayMs);
        if (i) expect(down[i].deliverAt).toBeGreaterThanOrEqual(down[i - 1].deliverAt);
      }
      // Upstream, the request head went through the proxy's own draws.
      expect(log.filter((m) => m.direction === 'up').map((m) => m.kind)).toEqual(['head']);
    });
  });

  it('forwards a request body and names the target in Host', async () => {
    await withProxy({ latencyMs: 5, jitterMs: 5 }, async (proxy) => {
      const res = await fetch(`${proxy.url}/echo`, { method: 'POST', body: 'hello' });
      expect(await res.text()).toBe(`${new URL(origin).host} got hello`);
    });
  });

  it('passes a reset mid-stream through, after the chunks before it', async () => {
    await withProxy({ latencyMs: 10, jitterMs: 5 }, async (proxy) => {
      const r = await read(`${proxy.url}/reset`);
      expect(r.chunks.join('')).toBe('before the reset;');
      expect(r.error).toMatch(/aborted|reset|socket hang up/i);
    });
  });

  it('forwards WebSocket frames both ways, in order, text and binary of every length encoding', async () => {
    serverSaw.length = 0;
    await withProxy({ latencyMs: 8, jitterMs: 8, seed: 5 }, async (proxy, log) => {
      const ws = new WebSocket(`${proxy.url.replace('http', 'ws')}/ws`);
      const received: string[] = [];
      const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
      await new Promise<void>((resolve, reject) => {
        ws.on('error', reject);
        ws.on('open', () => {
          for (const m of sent) ws.send(m);
          // 7-bit, 16-bit and 64-bit payload lengths.
          ws.send(Buffer.alloc(100));
          ws.send(Buffer.alloc(1000));
          ws.send(Buffer.alloc(70000));
        });
        ws.on('message', (data) => {
          received.push(String(data));
          if (received.length === 2 * (sent.length + 3)) resolve();
        });
      });
      ws.close();
      const all = [...sent, 'binary 100', 'binary 1000', 'binary 70000'];
      expect(serverSaw).toEqual(all);
      expect(received).toEqual(all.flatMap((m) => [`${m} a`, `${m} b`]));
      const frames = (d: string) => log.filter((m) => m.direction === d && m.kind === 'frame');
      // Masked client frames: 2 + 4 header bytes (+2 or +8 for longer payloads).
      expect(frames('up').slice(0, 23).map((m) => m.bytes)).toEqual([...sent.map((m) => 6 + m.length), 106, 1008, 70014]);
      expect(frames('down')).toHaveLength(46);
      expect(log.filter((m) => m.kind === 'head').map((m) => m.direction)).toEqual(['up', 'down']);
    });
  });

  it('passes a refused upgrade through as an HTTP response', async () => {
    await withProxy({ latencyMs: 5 }, async (proxy) => {
      const ws = new WebSocket(`${proxy.url.replace('http', 'ws')}/nowhere`);
      const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
      expect(status).toBe(404);
    });
  });

  it('applies new conditions to the messages that arrive after set()', async () => {
    await withProxy({ latencyMs: 40, jitterMs: 20 }, async (proxy, log) => {
      proxy.set({ latencyMs: 3 });
      await read(`${proxy.url}/stream`);
      expect(new Set(log.map((m) => m.delayMs))).toEqual(new Set([3]));
    });
  });

  it('refuses a target it cannot forward to', async () => {
    await expect(startShapingProxy({ target: 'https://example.com' })).rejects.toThrow(/plain HTTP/);
    await expect(startShapingProxy({ target: origin, jitterMs: -5 })).rejects.toThrow(/jitterMs/);
  });
});
