import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMonitor, type TurnReport } from '../src/index';
import { stubStreamingFetch } from './fixtures/body';

describe('deadlineMs', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const setup = (deadlineMs = 1000) => {
    const turns: TurnReport[] = [];
    const monitor = createMonitor({ deadlineMs, onTurn: (t) => turns.push(t) });
    return { monitor, turns };
  };

  it('fails a turn that gets no reply within the deadline', () => {
    const { monitor, turns } = setup();
    monitor.turn().start();
    vi.advanceTimersByTime(999);
    expect(turns).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(turns.map((t) => [t.outcome, t.reason])).toEqual([['error', 'deadline: no reply for 1000 ms']]);
    expect(monitor.summary().turns).toMatchObject({ error: 1, open: 0 });
  });

  it('runs from the last byte of the reply, and stops when the turn ends', () => {
    const { monitor, turns } = setup();
    const slow = monitor.turn().start();
    vi.advanceTimersByTime(600);
    slow.content(1);
    vi.advanceTimersByTime(999);
    expect(turns).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(turns.map((t) => [t.outcome, t.chunks])).toEqual([['error', 1]]);

    const quick = monitor.turn().start();
    quick.content(1);
    quick.end();
    vi.advanceTimersByTime(5000);
    expect(turns.map((t) => t.outcome)).toEqual(['error', 'complete']);
  });

  it('covers the turns of a connection the app reports itself', () => {
    const { monitor, turns } = setup();
    const connection = monitor.connection('webrtc');
    connection.sent('request');
    vi.advanceTimersByTime(1000);
    expect(turns.map((t) => [t.transport, t.outcome])).toEqual([['webrtc', 'error']]);
    // What the connection receives after is no turn's: nothing is reported twice.
    connection.received('late reply');
    connection.close('clean');
    expect(turns).toHaveLength(1);
  });

  it("covers the monitor's own fetch turns: a body that stops coming fails its turn, the app's read goes on", async () => {
    const { monitor, turns } = setup();
    const { push } = stubStreamingFetch();
    try {
      const reader = (await monitor.fetch('https://api.example/stream')).body!.getReader();
      push('one');
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('one');
      // earshot records the chunk in the microtask after the app's code that its read resumed.
      await null;
      vi.advanceTimersByTime(1000);
      expect(turns.map((t) => [t.transport, t.outcome, t.chunks, t.reason])).toEqual([['fetch', 'error', 1, 'deadline: no reply for 1000 ms']]);
      push('two');
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('two');
      expect(turns).toHaveLength(1);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('names the option when it is not a number >= 0', () => {
    expect(() => createMonitor({ deadlineMs: -5 })).toThrow(/deadlineMs/);
    expect(() => createMonitor({ deadlineMs: Number.NaN })).toThrow(RangeError);
  });
});

describe('fetch aborted by the app', () => {
  /** A fetch that rejects with the signal's reason when it aborts, as the browser's does. */
  const hanging = async (_input: RequestInfo | URL, init?: RequestInit) =>
    new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));

  const run = async (signal: AbortSignal, abort?: () => void) => {
    const turns: TurnReport[] = [];
    const monitor = createMonitor({ onTurn: (t) => turns.push(t) });
    vi.stubGlobal('fetch', hanging);
    try {
      const request = monitor.fetch('https://api.example/chat', { signal });
      abort?.();
      // The app's own error, as without earshot.
      expect(await request.then(() => undefined, (error: unknown) => error)).toBe(signal.reason);
    } finally {
      vi.unstubAllGlobals();
    }
    return { turns, summary: monitor.summary() };
  };

  it('by its timeout (AbortSignal.timeout): the turn fails, the connection is abandoned', async () => {
    const { turns, summary } = await run(AbortSignal.timeout(10));
    expect(turns.map((t) => [t.outcome, t.reason])).toEqual([['error', expect.stringMatching(/^TimeoutError/)]]);
    expect(summary.connections).toMatchObject({ abandoned: 1, dropped: 0 });
  });

  it('by the user (AbortController): the turn is abandoned', async () => {
    const controller = new AbortController();
    const { turns } = await run(controller.signal, () => controller.abort());
    expect(turns.map((t) => t.outcome)).toEqual(['abandoned']);
  });
});
