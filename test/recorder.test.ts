import { describe, expect, it } from 'vitest';
import { Recorder, type RecorderOptions } from '../src/core/recorder';
import type { ConnectionReport, TurnReport } from '../src/core/types';

/** A recorder on a hand-driven clock that keeps every report it emits. */
function setup(options: RecorderOptions = {}) {
  let t = 0;
  const turns: TurnReport[] = [];
  const connections: ConnectionReport[] = [];
  const recorder = new Recorder({
    ...options,
    now: () => t,
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
    for (const ms of [150, 170, 190, 250]) turn.content(at(ms));
    turn.finish('complete', at(260));
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
    turn.content(at(10), 3);
    turn.content(at(30), 2);
    turn.usage(11);
    turn.finish('complete', at(31));
    expect(turns[0].tokens).toBe(11);
    expect(turns[0].tokensEstimated).toBe(false);
    expect(turns[0].tpotMs).toBe(2);
  });

  it('counts adapter token counts without flagging them as estimates', () => {
    const { recorder, turns, at } = setup();
    const turn = recorder.connection('fetch').startTurn(at(0));
    turn.content(at(10), 3);
    turn.content(at(40), 4);
    turn.finish('complete', at(40));
    expect(turns[0].tokens).toBe(7);
    expect(turns[0].tokensEstimated).toBe(false);
    expect(turns[0].tpotMs).toBe(5);
  });

  it('leaves TPOT undefined for one token and passes its SLO', () => {
    const { recorder, turns, at } = setup({ slo: { tpotMs: 1 } });
    const turn = recorder.connection('fetch').startTurn(at(0));
    turn.content(at(10));
    turn.finish('complete', at(10));
    expect(turns[0].tpotMs).toBeUndefined();
    expect(turns[0].slo.good).toBe(true);
  });

  it('computes RTF for audio-bearing turns and TTFA from the heard time', () => {
    const { recorder, turns, at } = setup();
    const turn = recorder.connection('websocket').startTurn(at(1000));
    turn.content(at(1100), undefined, 500);
    turn.content(at(1300), undefined, 500);
    turn.audioHeard(at(1180));
    turn.finish('complete', at(1300));
    expect(turns[0].audioMs).toBe(1000);
    expect(turns[0].rtf).toBe(0.3);
    expect(turns[0].ttfaMs).toBe(180);
  });

  it('reports each turn exactly once', () => {
    const { recorder, turns, at } = setup();
    const c = recorder.connection('websocket');
    const turn = c.startTurn(at(0));
    turn.finish('error', at(5), 'boom');
    turn.finish('complete', at(6));
    c.close('dropped', at(7), 'reset');
    turn.content(at(8));
    expect(turns).toHaveLength(1);
    expect(turns[0].outcome).toBe('error');
    expect(turns[0].reason).toBe('boom');
    expect(recorder.summary().turns.started).toBe(1);
  });

  it('caps chunk times and keeps memory per turn independent of the chunk count', () => {
    const { recorder, turns, at } = setup({ chunkTimes: 2 });
    const turn = recorder.connection('websocket').startTurn(at(0));
    for (let i = 1; i <= 100_000; i++) turn.content(at(i));
    turn.finish('complete', at(100_000));
    expect(turns[0].chunkTimes).toEqual([1, 2]);
    expect(turns[0].itl.count).toBe(99_999);
    expect(turns[0].itl.p50).toBeCloseTo(1, 1);
  });
});

describe('SLO evaluation', () => {
  const run = (slo: RecorderOptions['slo']) => {
    const { recorder, turns, at } = setup({ slo });
    const turn = recorder.connection('fetch').startTurn(at(0));
    turn.content(at(300));
    turn.content(at(320));
    turn.content(at(400));
    turn.finish('complete', at(400));
    return turns[0].slo;
  };

  it('compares inclusively', () => {
    expect(run({ ttftMs: 300, tpotMs: 50, e2eMs: 400, maxGapMs: 80 })).toEqual({ good: true, failed: [] });
  });

  it('names every failed criterion', () => {
    expect(run({ ttftMs: 299.9, tpotMs: 49, e2eMs: 399, maxGapMs: 79 })).toEqual({
      good: false,
      failed: ['ttftMs', 'tpotMs', 'e2eMs', 'maxGapMs'],
    });
  });

  it('fails TTFT when no content arrived, and TTFA only for audio turns', () => {
    const { recorder, turns, at } = setup({ slo: { ttftMs: 100, ttfaMs: 100 } });
    const c = recorder.connection('fetch');
    c.startTurn(at(0)).finish('complete', at(10));
    const audio = c.startTurn(at(20));
    audio.content(at(30), 1, 20);
    audio.finish('complete', at(40));
    expect(turns[0].slo.failed).toEqual(['ttftMs']);
    expect(turns[1].slo.failed).toEqual(['ttfaMs']);
  });

  it('makes every outcome but complete bad', () => {
    const { recorder, turns, at } = setup({ slo: { ttftMs: 1000 } });
    const c = recorder.connection('websocket');
    for (const outcome of ['error', 'dropped'] as const) {
      const turn = c.startTurn(at(0));
      turn.content(at(1));
      turn.finish(outcome, at(2));
    }
    expect(turns.map((t) => t.slo)).toEqual([
      { good: false, failed: ['outcome'] },
      { good: false, failed: ['outcome'] },
    ]);
  });
});

describe('aggregates', () => {
  it('counts outcomes, goodput, failed criteria, drop rate and budget exactly', () => {
    const { recorder, at } = setup({ slo: { ttftMs: 100, objective: 0.9 } });
    const turnWith = (ttft: number, outcome: 'complete' | 'error' | 'dropped' | 'abandoned') => {
      const c = recorder.connection('fetch');
      const turn = c.startTurn(at(0));
      turn.content(at(ttft));
      turn.finish(outcome, at(ttft));
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
    expect(s.failedBy).toEqual({ ttftMs: 1, ttfaMs: 0, tpotMs: 0, e2eMs: 0, maxGapMs: 0, outcome: 2 });
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
    c.startTurn(at(0)).content(at(5));
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
    expect(() => turn.finish('complete', 1)).not.toThrow();
    expect(errors).toHaveLength(1);
    expect(recorder.summary().turns.complete).toBe(1);
  });
});
