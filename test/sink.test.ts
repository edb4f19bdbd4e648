import { describe, expect, it } from 'vitest';
import { adapters, createMonitor, type ConnectionReport, type Monitor, type Sink, type TurnReport } from '../src/index';

/** A sink that names each span after its id, so the traceparents in play are predictable. */
function recordingSink(overrides: Partial<Sink> = {}) {
  const started: Array<[string, string | undefined, string | undefined]> = [];
  const turns: TurnReport[] = [];
  const connections: ConnectionReport[] = [];
  const attached: Monitor[] = [];
  const sink: Sink = {
    attach: (monitor) => attached.push(monitor),
    start: (id, parentId, url) => {
      started.push([id, parentId, url]);
      return `00-${'a'.repeat(32)}-${id.padStart(16, '0')}-01`;
    },
    turn: (report) => turns.push(report),
    connection: (report) => connections.push(report),
    ...overrides,
  };
  return { sink, started, turns, connections, attached };
}

/** A fetch stand-in that records what it was called with and answers with a small body. */
function stubFetch(headers: Record<string, string> = {}) {
  const calls: Array<{ input: RequestInfo | URL; init?: RequestInit }> = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ input, init });
    return new Response('hello', { headers });
  };
  return { fetch: fetch as typeof globalThis.fetch, calls };
}

describe('sink', () => {
  it('is attached to its monitor and sees the start and report of every connection and turn', () => {
    const { sink, started, turns, connections, attached } = recordingSink();
    const monitor = createMonitor({ sink });
    expect(attached).toEqual([monitor]);

    const connection = monitor.connection('webrtc', 'https://example.test/rtc?token=secret', { adapter: adapters.raw() });
    expect(connection.traceparent).toBe(`00-${'a'.repeat(32)}-00000000000000c1-01`);
    const turn = connection.sent('hello');
    expect(turn?.traceparent).toBe(`00-${'a'.repeat(32)}-00000000000000t1-01`);
    connection.received('reply');
    connection.close('clean');
    const manual = monitor.turn().start();
    manual.end();

    // URLs reach the sink redacted, as they reach reports.
    expect(started).toEqual([
      ['c1', undefined, 'https://example.test/rtc?token=REDACTED'],
      ['t1', 'c1', 'https://example.test/rtc?token=REDACTED'],
      ['t2', undefined, undefined],
    ]);
    expect(turns.map((t) => [t.id, t.outcome, t.chunks])).toEqual([
      ['t1', 'complete', 1],
      ['t2', 'complete', 0],
    ]);
    expect(connections.map((c) => [c.id, c.transport, c.outcome, c.turns])).toEqual([['c1', 'webrtc', 'clean', 1]]);
  });

  it('failing hooks are counted as earshot errors and never reach the app', () => {
    const errors: unknown[] = [];
    const fail = () => {
      throw new Error('sink broke');
    };
    const monitor = createMonitor({
      sink: { attach: fail, start: fail, turn: fail, connection: fail },
      onError: (error) => errors.push(error),
    });
    const connection = monitor.connection('manual');
    expect(connection.traceparent).toBeUndefined();
    connection.sent('request');
    connection.close('clean');
    expect(monitor.summary().turns.complete).toBe(1);
    // attach, start (connection), start (turn), turn, connection.
    expect(monitor.internalErrors).toBe(5);
    expect(errors).toHaveLength(5);
  });

  it('fetch carries the headers the sink gives, merged into the app headers, and passes the response headers back', async () => {
    const seen: Array<[string, string | null]> = [];
    const { sink } = recordingSink({
      headers: (url, traceparent) => (url.startsWith('https://api.test/') ? { traceparent } : undefined),
      response: (turnId, headers) => seen.push([turnId, headers.get('server-timing')]),
    });
    const monitor = createMonitor({ sink });
    const stub = stubFetch({ 'server-timing': 'inference;dur=12' });
    const original = globalThis.fetch;
    // The monitor reads the global fetch at call time: the stub stands in for the network.
    globalThis.fetch = stub.fetch;
    try {
      await (await monitor.fetch('https://api.test/a', { headers: { 'x-app': '1' } })).text();
      await (await monitor.fetch(new Request('https://api.test/b', { headers: { 'x-req': '2' } }))).text();
      await (await monitor.fetch('https://other.test/c', { headers: { 'x-app': '3' } })).text();
    } finally {
      globalThis.fetch = original;
    }

    const headersOf = (i: number) => Object.fromEntries(new Headers(stub.calls[i]!.init?.headers).entries());
    expect(headersOf(0)).toEqual({ 'x-app': '1', traceparent: `00-${'a'.repeat(32)}-00000000000000t1-01` });
    // A Request's own headers are kept when the trace header is added.
    expect(headersOf(1)).toEqual({ 'x-req': '2', traceparent: `00-${'a'.repeat(32)}-00000000000000t2-01` });
    expect(stub.calls[1]!.input).toBeInstanceOf(Request);
    // Not allowed by the sink: the app's init goes through untouched.
    expect(stub.calls[2]!.init).toEqual({ headers: { 'x-app': '3' } });
    expect(seen).toEqual([
      ['t1', 'inference;dur=12'],
      ['t2', 'inference;dur=12'],
      ['t3', 'inference;dur=12'],
    ]);
  });
});
