import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { adapters, createMonitor, type TurnReport } from '../src/index';
import { defineSlo } from '../src/slo';
import { stubStreamingFetch } from './fixtures/body';

/** Scripted responses: each route writes its parts with the given gaps. */
const routes: Record<string, (res: ServerResponse) => void> = {
  '/openai': (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const parts = [
      ': ping\n\n',
      'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n',
      'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n',
      'data: {"choices":[{"delta":{"content":"lo"}}]}\r\n\r\n',
      'data: {"choices":[{"delta":{"content":" there"}}]}\n\ndata: {"choices":[],"usage":{"completion_tokens":5}}\n\n',
      'data: [DONE]\n\n',
    ];
    write(res, parts, 5);
  },
  '/truncated': (res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    write(res, ['data: {"choices":[{"delta":{"content":"a"}}]}\n\n'], 1);
  },
  '/plain': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    write(res, ['one', 'two', 'three'], 5);
  },
  '/reset': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial');
    setTimeout(() => res.socket?.destroy(), 20);
  },
  '/slow': (res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('first');
    setTimeout(() => res.end('late'), 2000);
  },
  '/status': (res) => {
    res.writeHead(503, { 'content-type': 'text/plain' });
    res.end('busy');
  },
};

function write(res: ServerResponse, parts: string[], gapMs: number) {
  let i = 0;
  const next = () => {
    if (i === parts.length) return res.end();
    res.write(parts[i++]);
    setTimeout(next, gapMs);
  };
  next();
}

let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const route = routes[(req.url ?? '').split('?')[0]];
    if (route) route(res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

function monitored() {
  const turns: TurnReport[] = [];
  const monitor = createMonitor({ onTurn: (t) => turns.push(t), chunkTimes: 100 });
  return { monitor, turns };
}

describe('monitor.fetch in Node', () => {
  it('measures an OpenAI SSE stream read with text(), using usage for tokens', async () => {
    const { monitor, turns } = monitored();
    const res = await monitor.fetch(`${base}/openai?token=secret`);
    expect(res).toBeInstanceOf(Response);
    expect(res.url).toBe(`${base}/openai?token=secret`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const text = await res.text();
    expect(text).toContain('data: [DONE]');
    expect(turns).toHaveLength(1);
    const t = turns[0];
    expect(t.outcome).toBe('complete');
    expect(t.chunks).toBe(3);
    expect(t.tokens).toBe(5);
    expect(t.tokensEstimated).toBe(false);
    expect(t.url).toBe(`${base}/openai?token=REDACTED`);
    expect(t.ttftMs).toBeGreaterThan(t.ttfbMs ?? Infinity);
    expect(t.itl.count).toBe(2);
    expect(t.chunkTimes).toHaveLength(3);
    expect(monitor.summary().connections).toMatchObject({ active: 0, clean: 1 });
  });

  it('counts every body chunk as content by default and works with getReader()', async () => {
    const { monitor, turns } = monitored();
    const res = await monitor.fetch(`${base}/plain`);
    const reader = res.body!.getReader();
    const got: string[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got.push(new TextDecoder().decode(value));
    }
    expect(got.join('')).toBe('onetwothree');
    expect(turns[0]).toMatchObject({ outcome: 'complete', chunks: got.length, tokensEstimated: true });
  });

  it('marks an SSE chat stream that stops without [DONE] as dropped', async () => {
    const { monitor, turns } = monitored();
    const res = await monitor.fetch(`${base}/truncated`, undefined, { adapter: adapters.sse() });
    await res.text();
    expect(turns[0]).toMatchObject({ outcome: 'dropped', chunks: 1 });
    expect(monitor.summary().dropRate).toBe(1);
  });

  it('drops a turn whose body read fails, and the app sees the same error', async () => {
    const { monitor, turns } = monitored();
    const res = await monitor.fetch(`${base}/reset`);
    await expect(res.text()).rejects.toThrow();
    expect(turns[0].outcome).toBe('dropped');
  });

  it('abandons a turn the app aborts, and the abort reaches the app', async () => {
    const { monitor, turns } = monitored();
    const controller = new AbortController();
    const res = await monitor.fetch(`${base}/slow`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await expect(reader.read()).rejects.toMatchObject({ name: 'AbortError' });
    expect(turns[0]).toMatchObject({ outcome: 'abandoned', chunks: 1 });
    expect(monitor.summary().turns.valid).toBe(0);
  });

  it('abandons a turn whose body the app cancels', async () => {
    const { monitor, turns } = monitored();
    const res = await monitor.fetch(`${base}/slow`);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    expect(turns[0]).toMatchObject({ outcome: 'abandoned', reason: 'cancelled by the app' });
  });

  it("stamps a chunk right before the app's code gets it and records it after, unless the app reads turns first", async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const { push } = stubStreamingFetch();
    try {
      const { monitor, turns } = monitored();
      const reader = (await monitor.fetch('https://api.example/stream')).body!.getReader();
      vi.advanceTimersByTime(7);
      push('one');
      await reader.read();
      // The app's code its read resumed, 2 ms on: earshot's work waits; reading turns does it first,
      // with the stamp taken before that code.
      vi.advanceTimersByTime(2);
      expect(monitor.activeTurn()).toBeDefined();
      await reader.cancel();
      expect(turns.map((t) => [t.outcome, t.chunks, t.chunkTimes])).toEqual([['abandoned', 1, [7]]]);
    } finally {
      vi.unstubAllGlobals();
      vi.useRealTimers();
    }
  });

  it('fails a turn on an HTTP error status and returns the response untouched', async () => {
    const { monitor, turns } = monitored();
    const res = await monitor.fetch(`${base}/status`);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('busy');
    expect(turns[0]).toMatchObject({ outcome: 'error', reason: 'HTTP 503' });
  });

  it('drops a turn whose request fails and rethrows the same error', async () => {
    const { monitor, turns } = monitored();
    await expect(monitor.fetch('http://127.0.0.1:1/')).rejects.toThrow(TypeError);
    expect(turns[0].outcome).toBe('dropped');
  });

  it('instruments the global fetch with patchGlobals, once, and undoes it', async () => {
    const { monitor, turns } = monitored();
    const native = globalThis.fetch;
    const undo = monitor.patchGlobals();
    try {
      expect(monitor.patchGlobals()).toBe(undo);
      expect(globalThis.fetch).not.toBe(native);
      // App code that knows nothing of earshot.
      expect(await (await fetch(`${base}/plain`)).text()).toBe('onetwothree');
    } finally {
      undo();
    }
    expect(globalThis.fetch).toBe(native);
    expect(turns).toHaveLength(1);
    expect(turns[0]).toMatchObject({ transport: 'fetch', outcome: 'complete' });
    await (await fetch(`${base}/plain`)).text();
    expect(turns).toHaveLength(1);
  });

  it('a line over the 16 MiB cap reaches the app whole, and earshot says it did not measure it', async () => {
    const errors: unknown[] = [];
    const turns: TurnReport[] = [];
    const monitor = createMonitor({ onTurn: (t) => turns.push(t), onError: (e) => errors.push(e) });
    const long = `data: {"choices":[{"delta":{"content":"${'x'.repeat(16 << 20)}"}}]}\n\n`;
    const body = `${long}data: {"choices":[{"delta":{"content":"short"}}]}\n\ndata: [DONE]\n\n`;
    const native = globalThis.fetch;
    globalThis.fetch = async () => new Response(body, { headers: { 'content-type': 'text/event-stream' } });
    try {
      expect(await (await monitor.fetch('https://api.example/chat')).text()).toBe(body);
    } finally {
      globalThis.fetch = native;
    }
    expect(turns.map((t) => [t.outcome, t.chunks])).toEqual([['complete', 1]]);
    expect(monitor.internalErrors).toBe(1);
    expect(String(errors[0])).toMatch(/a line of \d+ bytes, over the cap, was not measured/);
  });

  it('rejects bad options at init, naming the option', () => {
    expect(() => createMonitor({ slo: { ttftMs: Number.NaN } })).toThrow(/slo\.ttftMs/);
    expect(() => createMonitor({ slo: { tpotMs: -1 } })).toThrow(/slo\.tpotMs/);
    expect(() => createMonitor({ slo: { objective: 1 } })).toThrow(/slo\.objective/);
    // @ts-expect-error an unknown option is a mistake worth an error, not a silent no-op
    expect(() => createMonitor({ sol: {} })).toThrow(/unknown option "sol"/);
    // A misspelt criterion would judge nothing.
    expect(() => createMonitor({ slo: { ttft: 300 } as never })).toThrow(/slo: unknown option "ttft"/);
    // A definition from earshot/slo carries fields only it uses.
    expect(() => createMonitor({ slo: defineSlo({ name: 'chat', ttftMs: 800, dropRate: 0.01, description: 'chat' }) })).not.toThrow();
  });
});
