import { describe, expect, it, vi } from 'vitest';
import { toAdapter } from '../src/adapters';
import { Recorder, TurnRecord, type RecorderOptions } from '../src/core/recorder';
import type { AdapterFunction, ConnectionReport, TurnReport } from '../src/core/types';
import { createMonitor } from '../src/index';

/** A recorder on a hand-driven clock that keeps every report it emits. */
function setup(options: RecorderOptions = {}) {
  let t = 0;
  const turns: TurnReport[] = [];
  const connections: ConnectionReport[] = [];
  const recorder = new Recorder({
    ...options,
    clock: { now: () => t },
    timeOrigin: 1_000_000,
    onTurn: (turn) => turns.push(turn),
    onConnection: (c) => connections.push(c),
  });
  return { recorder, turns, connections, at: (ms: number) => (t = ms) };
}

describe('turn metrics', () => {
  it('computes TTFB, TTFT, ITL, jitter, stalls, TPOT and E2E exactly', () => {
    const { recorder, turns, at } = setup({ stallMs: 50, chunkTimes: 3 });
    const c = recorder.connection('websocket', 'wss://x/y');
    const turn = c.startTurn(at(100));
    turn.byte(at(140));
    for (const ms of [150, 170, 190, 250]) turn.content(undefined, undefined, at(ms));
    turn.end(at(260));
    const r = turns[0];
    expect(r.t0).toBe(100);
    expect(r.startTime).toBe(1_000_100);
    expect(r.ttfbMs).toBe(40);
    expect(r.ttftMs).toBe(50);
    expect(r.e2eMs).toBe(150);
    expect(r.chunks).toBe(4);
    expect(r.tokens).toBe(4);
    expect(r.tokensEstimated).toBe(true);
    expect(r.tpotMs).toBeCloseTo(100 / 3, 12);
    expect(r.itl.count).toBe(3);
    expect(r.itl.max).toBe(60);
    expect(r.itl.min).toBe(20);
    expect(r.itl.mean).toBeCloseTo(100 / 3, 12);
    // population σ of [20, 20, 60]
    expect(r.itl.stddev).toBeCloseTo(Math.sqrt(((20 - 100 / 3) ** 2 * 2 + (60 - 100 / 3) ** 2) / 3), 9);
    expect(r.itl.stalls).toBe(1);
    expect(r.chunkTimes).toEqual([150, 170, 190]);
    expect(r.outcome).toBe('complete');
    expect(r.slo).toEqual({ good: true, failed: [] });
  });

  it('uses the server usage count for TPOT and clears the estimate flag', () => {
    const { recorder, turns, at } = setup();
    const turn = recorder.connection('fetch').startTurn(at(0));
    turn.content(3, undefined, at(10));
    turn.content(2, undefined, at(30));
    turn.usage(11);
    turn.end(at(31));
    expect(turns[0].tokens).toBe(11);
    expect(turns[0].tokensEstimated).toBe(false);
    expect(turns[0].tpotMs).toBe(2);
  });

  it('counts adapter token counts without flagging them as estimates', () => {
    const { recorder, turns, at } = setup();
    const turn = recorder.connection('fetch').startTurn(at(0));
    turn.content(3, undefined, at(10));
    turn.content(4, undefined, at(40));
    turn.end(at(40));
    expect(turns[0].tokens).toBe(7);
    expect(turns[0].tokensEstimated).toBe(false);
    expect(turns[0].tpotMs).toBe(5);
  });

  it('leaves TPOT undefined for one token and passes its SLO', () => {
    const { recorder, turns, at } = setup({ slo: { tpotMs: 1 } });
    const turn = recorder.connection('fetch').startTurn(at(0));
    turn.content(undefined, undefined, at(10));
    turn.end(at(10));
    expect(turns[0].tpotMs).toBeUndefined();
    expect(turns[0].slo.good).toBe(true);
  });

  it('computes RTF for audio-bearing turns and TTFA from the heard time', () => {
    const { recorder, turns, at } = setup();
    const turn = recorder.connection('websocket').startTurn(at(1000));
    turn.content(undefined, 500, at(1100));
    turn.content(undefined, 500, at(1300));
    turn.audioHeard(at(1180));
    turn.end(at(1300));
    expect(turns[0].audioMs).toBe(1000);
    expect(turns[0].rtf).toBe(0.3);
    expect(turns[0].ttfaMs).toBe(180);
  });

  it('reports each turn exactly once', () => {
    const { recorder, turns, at } = setup();
    const c = recorder.connection('websocket');
    const turn = c.startTurn(at(0));
    turn.fail('boom', at(5));
    turn.end(at(6));
    c.close('dropped', at(7), 'reset');
    turn.content(undefined, undefined, at(8));
    expect(turns).toHaveLength(1);
    expect(turns[0].outcome).toBe('error');
    expect(turns[0].reason).toBe('boom');
    expect(recorder.summary().turns.started).toBe(1);
  });

  it('caps chunk times and keeps memory per turn independent of the chunk count', () => {
    const { recorder, turns, at } = setup({ chunkTimes: 2 });
    const turn = recorder.connection('websocket').startTurn(at(0));
    for (let i = 1; i <= 100_000; i++) turn.content(undefined, undefined, at(i));
    turn.end(at(100_000));
    expect(turns[0].chunkTimes).toEqual([1, 2]);
    expect(turns[0].itl.count).toBe(99_999);
    expect(turns[0].itl.p50).toBeCloseTo(1, 1);
  });
});

describe('SLO evaluation', () => {
  const run = (slo: RecorderOptions['slo']) => {
    const { recorder, turns, at } = setup({ slo });
    const turn = recorder.connection('fetch').startTurn(at(0));
    for (const ms of [300, 320, 400]) turn.content(undefined, undefined, at(ms));
    turn.end(at(400));
    return turns[0].slo;
  };

  it('compares inclusively', () => {
    expect(run({ ttftMs: 300, tpotMs: 50, e2eMs: 400, maxGapMs: 80 })).toEqual({ good: true, failed: [] });
  });

  it('names every failed criterion', () => {
    expect(run({ ttftMs: 299.9, tpotMs: 49, e2eMs: 399, maxGapMs: 79 })).toEqual({
      good: false,
      failed: ['ttftMs', 'tpotMs', 'e2eMs', 'maxGapMs'],
      category: 'latency',
    });
  });

  it('fails TTFT when no content arrived, and TTFA only for audio turns', () => {
    const { recorder, turns, at } = setup({ slo: { ttftMs: 100, ttfaMs: 100 } });
    const c = recorder.connection('fetch');
    c.startTurn(at(0)).end(at(10));
    const audio = c.startTurn(at(20));
    audio.content(1, 20, at(30));
    audio.end(at(40));
    expect(turns[0].slo.failed).toEqual(['ttftMs']);
    expect(turns[1].slo.failed).toEqual(['ttfaMs']);
  });

  it('makes every outcome but complete bad', () => {
    const { recorder, turns, at } = setup({ slo: { ttftMs: 1000 } });
    const c = recorder.connection('websocket');
    for (const outcome of ['error', 'dropped'] as const) {
      const turn = c.startTurn(at(0));
      turn.content(undefined, undefined, at(1));
      turn._finish(outcome, at(2));
    }
    expect(turns.map((t) => t.slo)).toEqual([
      { good: false, failed: ['outcome'], category: 'infrastructure' },
      { good: false, failed: ['outcome'], category: 'infrastructure' },
    ]);
  });
});

describe('aggregates', () => {
  it('counts outcomes, goodput, failed criteria, drop rate and budget exactly', () => {
    const { recorder, at } = setup({ slo: { ttftMs: 100, objective: 0.9 } });
    const turnWith = (ttft: number, outcome: 'complete' | 'error' | 'dropped' | 'abandoned') => {
      const c = recorder.connection('fetch');
      const turn = c.startTurn(at(0));
      turn.content(undefined, undefined, at(ttft));
      turn._finish(outcome, at(ttft));
      c.close(outcome === 'dropped' ? 'dropped' : outcome === 'abandoned' ? 'abandoned' : 'clean', at(ttft));
    };
    for (let i = 0; i < 6; i++) turnWith(50, 'complete');
    turnWith(150, 'complete');
    turnWith(50, 'error');
    turnWith(50, 'dropped');
    turnWith(50, 'abandoned');
    const s = recorder.summary();
    expect(s.turns).toEqual({ started: 10, open: 0, complete: 7, error: 1, dropped: 1, abandoned: 1, valid: 9, good: 6 });
    expect(s.goodput).toBe(6 / 9);
    expect(s.failedBy).toEqual({ ttftMs: 1, ttfaMs: 0, tpotMs: 0, e2eMs: 0, maxGapMs: 0, rtf: 0, outcome: 2, quality: 0, configuration: 0 });
    expect(s.connections).toMatchObject({ opened: 10, active: 0, clean: 8, dropped: 1, abandoned: 1 });
    expect(s.dropRate).toBe(1 / 9);
    expect(s.budgetRemaining).toBeCloseTo(1 - 3 / 9 / 0.1, 12);
    expect(s.ttft.count).toBe(10);
    expect(s.ttft.max).toBe(150);
  });

  it('keeps an exact active count and a high-water mark a reader takes and resets', () => {
    const { recorder, at } = setup();
    const a = recorder.connection('websocket');
    const b = recorder.connection('websocket');
    const c = recorder.connection('fetch');
    a.close('clean', at(1));
    b.close('clean', at(2));
    expect(recorder.summary().connections.active).toBe(1);
    expect(recorder.takePeak()).toBe(3);
    expect(recorder.takePeak()).toBe(1);
    c.close('clean', at(3));
    c.close('dropped', at(4));
    expect(recorder.takePeak()).toBe(1);
    expect(recorder.takePeak()).toBe(0);
    expect(recorder.summary().connections).toMatchObject({ active: 0, clean: 3, dropped: 0 });
  });

  it('abandons every open turn and connection at unload', () => {
    const { recorder, turns, connections, at } = setup();
    const c = recorder.connection('websocket');
    c.startTurn(at(0)).content(undefined, undefined, at(5));
    recorder.connection('fetch').startTurn(at(1));
    recorder.abandonAll('page unload');
    expect(turns.map((t) => [t.outcome, t.reason])).toEqual([
      ['abandoned', 'page unload'],
      ['abandoned', 'page unload'],
    ]);
    expect(connections.map((x) => x.outcome)).toEqual(['abandoned', 'abandoned']);
    expect(recorder.summary().turns.valid).toBe(0);
  });

  it('never lets an app callback that throws break the recorder', () => {
    const errors: unknown[] = [];
    const recorder = new Recorder({
      onTurn: () => {
        throw new Error('app bug');
      },
      onError: (e) => errors.push(e),
    });
    const turn = recorder.connection('fetch').startTurn(0);
    expect(() => turn.end(1)).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(recorder.summary().turns.complete).toBe(1);
  });
});

describe('manual turns', () => {
  it('start at start(): t0 from the clock, once; then content, usage and end', () => {
    const { recorder, turns, at } = setup();
    const turn = new TurnRecord(recorder.manual);
    expect(turn.id).toBeUndefined();
    expect(recorder.summary().turns.started).toBe(0);
    at(100);
    expect(turn.start()).toBe(turn);
    expect(turn.id).toBe('t1');
    at(150);
    turn.start(); // only the first call counts
    turn.content(2);
    at(170);
    turn.content(3, 40);
    turn.usage(9);
    turn.audioHeard(160);
    at(200);
    turn.end();
    expect(turns[0]).toMatchObject({
      id: 't1',
      connectionId: 'manual',
      transport: 'manual',
      t0: 100,
      ttfbMs: 50,
      ttftMs: 50,
      ttfaMs: 60,
      e2eMs: 70,
      tokens: 9,
      tokensEstimated: false,
      chunks: 2,
      audioMs: 40,
      outcome: 'complete',
    });
    expect(recorder.summary().connections.opened).toBe(0);
  });

  it('starts implicitly at the first call of any other method', () => {
    const { recorder, turns, at } = setup();
    const turn = new TurnRecord(recorder.manual);
    at(40);
    turn.content();
    at(55);
    turn.fail(new TypeError('boom'));
    expect(turns[0]).toMatchObject({ t0: 40, ttftMs: 0, e2eMs: 0, outcome: 'error', reason: 'TypeError: boom' });
    const quiet = new TurnRecord(recorder.manual);
    at(60);
    quiet.abandon();
    expect(turns[1]).toMatchObject({ t0: 60, outcome: 'abandoned', reason: 'abandoned by the app' });
    new TurnRecord(recorder.manual).fail();
    expect(turns[2]).toMatchObject({ outcome: 'error', reason: 'error' });
    expect(recorder.summary().turns).toMatchObject({ started: 3, open: 0, valid: 2 });
  });

  it('completes an open manual turn when the next one starts, and abandons one open at unload', () => {
    const { recorder, turns, at } = setup();
    const first = new TurnRecord(recorder.manual).start(at(0));
    const second = new TurnRecord(recorder.manual).start(at(10));
    expect(turns.map((t) => [t.id, t.outcome, t.e2eMs])).toEqual([['t1', 'complete', 10]]);
    expect(recorder.summary().turns.open).toBe(1);
    recorder.abandonAll('page unload');
    first.end(at(20)); // already reported
    second.end(at(20));
    expect(turns.map((t) => [t.id, t.outcome, t.reason])).toEqual([
      ['t1', 'complete', undefined],
      ['t2', 'abandoned', 'page unload'],
    ]);
  });

  it('is what monitor.turn() returns', () => {
    const turns: TurnReport[] = [];
    const monitor = createMonitor({ onTurn: (t) => turns.push(t) });
    const turn = monitor.turn();
    expect(turn.id).toBeUndefined();
    turn.start().content(4);
    turn.end();
    expect(turns).toHaveLength(1);
    expect(turns[0]).toMatchObject({ id: turn.id, transport: 'manual', tokens: 4, chunks: 1, outcome: 'complete' });
  });
});

describe('messages through an adapter', () => {
  /** A connection whose adapter reads each message as its kind, e.g. 'content' or 'end'. */
  function connection(requireEnd: boolean) {
    const { recorder, turns, connections, at } = setup();
    const c = recorder.connection('websocket');
    const adapter: AdapterFunction = (data, direction, ctx) => {
      ctx.requireEnd = requireEnd;
      return direction === 'out' ? 'request' : (data as 'content');
    };
    c._adapter = toAdapter(adapter);
    return { recorder, c, turns, connections, at };
  }

  it('without explicit ends, each request the app sends ends the turn before it', () => {
    const { c, turns, at } = connection(false);
    c.sent('q1', at(0));
    c.received('content', at(10));
    c.sent('q2', at(20));
    c.received('content', at(35));
    c.received('noise', at(40));
    c.close('clean', at(50));
    expect(turns.map((t) => [t.t0, t.ttftMs, t.e2eMs, t.outcome])).toEqual([
      [0, 10, 10, 'complete'],
      [20, 15, 20, 'complete'], // noise is a byte of the reply too
    ]);
  });

  it('with explicit ends, a request while a turn is open belongs to it, and a missing end is a drop', () => {
    const { c, turns, connections, at } = connection(true);
    c.received('request', at(0)); // e.g. server VAD: the turn starts, and this is its first byte
    c.sent('q', at(5));
    c.received('content', at(10));
    c.received('end', at(20));
    c.sent('q', at(30));
    c.received('content', at(45));
    c.close('clean', at(50));
    expect(turns.map((t) => [t.t0, t.ttfbMs, t.ttftMs, t.outcome, t.reason])).toEqual([
      [0, 0, 10, 'complete', undefined],
      [30, 15, 15, 'dropped', 'ended before the end of the turn'],
    ]);
    expect(connections[0]).toMatchObject({ outcome: 'dropped', turns: 2 });
  });

  it('ignores messages after the connection closed, and counts an adapter that throws', () => {
    const errors: unknown[] = [];
    const recorder = new Recorder({ onError: (e) => errors.push(e) });
    const c = recorder.connection('websocket');
    c._adapter = toAdapter(() => {
      throw new Error('adapter bug');
    });
    c.received('x', 1);
    c.sent('x', 2);
    expect(recorder._errors).toBe(2);
    expect(errors).toHaveLength(2);
    c._adapter = toAdapter(() => 'request');
    c.close('dropped', 3, 'reset');
    c.received('x', 4);
    c.sent('x', 5);
    expect(recorder.summary().turns.started).toBe(0);
  });
});

describe('time to first audio from a player', () => {
  it('holds the report of a turn that ended before its audio was heard, until it is', () => {
    const { recorder, turns, at } = setup();
    const turn = new TurnRecord(recorder.manual).start(at(0));
    turn.awaitAudio();
    turn.content(undefined, 200, at(50));
    turn.end(at(60));
    expect(turns).toHaveLength(0);
    expect(recorder.summary().turns.open).toBe(1);
    turn.audioHeard(at(140));
    turn.audioHeard(at(150));
    expect(turns).toHaveLength(1);
    expect(turns[0]).toMatchObject({ ttfaMs: 140, e2eMs: 50, outcome: 'complete' });
  });

  it('reports without TTFA once the wait runs out, and only once', () => {
    vi.useFakeTimers();
    try {
      const { recorder, turns, at } = setup({ slo: { ttfaMs: 500 } });
      const turn = new TurnRecord(recorder.manual).start(at(0));
      turn.awaitAudio();
      turn.content(undefined, 200, at(50));
      turn.end(at(60));
      vi.advanceTimersByTime(2999);
      expect(turns).toHaveLength(0);
      vi.advanceTimersByTime(1);
      expect(turns).toHaveLength(1);
      expect(turns[0].ttfaMs).toBeUndefined();
      expect(turns[0].slo.failed).toEqual(['ttfaMs']);
      turn.audioHeard(at(4000));
      expect(turns).toHaveLength(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('sends held reports at page unload, and does not hold a turn already heard', () => {
    const { recorder, turns, at } = setup();
    const held = new TurnRecord(recorder.manual).start(at(0));
    held.awaitAudio();
    held.end(at(10));
    const heard = new TurnRecord(recorder.connection('websocket')).start(at(20));
    heard.awaitAudio();
    heard.audioHeard(at(30));
    heard.end(at(40));
    expect(turns.map((t) => t.ttfaMs)).toEqual([10]);
    recorder.abandonAll('page unload');
    expect(turns.map((t) => [t.outcome, t.ttfaMs])).toEqual([
      ['complete', 10],
      ['complete', undefined],
    ]);
  });

  it('names the open turn that received the latest content, for a player to credit', () => {
    const monitor = createMonitor();
    expect(monitor.activeTurn()).toBeUndefined();
    const a = monitor.turn().start();
    const b = monitor.turn();
    a.content();
    expect(monitor.activeTurn()).toBe(a);
    b.content(); // a manual turn started while another is open completes it
    expect(monitor.activeTurn()).toBe(b);
    b.end();
    expect(monitor.activeTurn()).toBeUndefined();
  });
});
