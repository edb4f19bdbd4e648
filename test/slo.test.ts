import { describe, expect, it } from 'vitest';
import { Recorder, type TurnRecord } from '../src/core/recorder';
import type { SloOptions, TurnReport } from '../src/core/types';
import { createMonitor } from '../src/index';
import {
  batchTranscription,
  DAY_MS,
  defineSlo,
  interactiveChat,
  liveCaptioning,
  presets,
  prometheusName,
  PROMETHEUS,
  severityOf,
  SRE_WINDOWS,
  voiceAgent,
} from '../src/slo';

/** A recorder on a hand-driven clock that keeps every turn report. */
function setup(slo: SloOptions) {
  let t = 0;
  const turns: TurnReport[] = [];
  const recorder = new Recorder({ slo, clock: { now: () => t }, timeOrigin: 0, onTurn: (turn) => turns.push(turn) });
  const at = (ms: number) => (t = ms);
  return { recorder, turns, at };
}

/** One websocket turn from t0 = 0, driven by `steps`; its report. */
function judge(slo: SloOptions, steps: (turn: TurnRecord, at: (ms: number) => number) => void): TurnReport {
  const { recorder, turns, at } = setup(slo);
  steps(recorder.connection('websocket').startTurn(at(0)), at);
  return turns[0];
}

/** Text chunks at `times`, then the end at the last of them. */
const text = (...times: number[]) => (turn: TurnRecord, at: (ms: number) => number) => {
  for (const ms of times) turn.content(1, undefined, at(ms));
  turn.end(at(times[times.length - 1]));
};

/** First text at `ttft`; `audioMs` of audio arriving at `audioAt`, heard at `heard`. */
const voice = (ttft: number, heard: number | undefined, audioAt: number, audioMs: number) => (turn: TurnRecord, at: (ms: number) => number) => {
  turn.content(1, undefined, at(ttft));
  if (heard !== undefined) turn.audioHeard(at(heard));
  turn.content(0, audioMs, at(audioAt));
  turn.end(at(audioAt));
};

const verdict = (r: TurnReport) => [r.slo.good, r.slo.failed, r.slo.category];

describe('presets', () => {
  it('carry the published targets', () => {
    expect(presets).toEqual({ voiceAgent, liveCaptioning, interactiveChat, batchTranscription });
    expect(voiceAgent).toMatchObject({ name: 'voice-agent', ttftMs: 300, ttfaMs: 300, rtf: 0.5, dropRate: 0.001, objective: 0.99, windowMs: 30 * DAY_MS });
    expect(liveCaptioning).toMatchObject({ name: 'live-captioning', ttftMs: 500, rtf: 0.8, objective: 0.99 });
    expect(interactiveChat).toMatchObject({ name: 'interactive-chat', ttftMs: 100, tpotMs: 15, e2eMs: 5000, objective: 0.99 });
    expect(batchTranscription).toMatchObject({ name: 'batch-transcription', rtf: 5, objective: 0.99 });
    for (const preset of Object.values(presets)) {
      expect(preset).toMatchObject({ windows: SRE_WINDOWS, minEvents: 10, windowMs: 30 * DAY_MS });
      expect(Object.isFrozen(preset)).toBe(true);
    }
  });

  it('voice agent: TTFT and TTFA within 300 ms and RTF 0.5, inclusive', () => {
    // 1000 ms of audio by 500 ms: RTF 0.5.
    expect(verdict(judge(voiceAgent, voice(300, 300, 500, 1000)))).toEqual([true, [], undefined]);
    expect(verdict(judge(voiceAgent, voice(301, 300, 500, 1000)))).toEqual([false, ['ttftMs'], 'latency']);
    expect(verdict(judge(voiceAgent, voice(250, 301, 500, 1000)))).toEqual([false, ['ttfaMs'], 'latency']);
    // Audio that was never heard misses TTFA.
    expect(verdict(judge(voiceAgent, voice(250, undefined, 500, 1000)))).toEqual([false, ['ttfaMs'], 'latency']);
    expect(verdict(judge(voiceAgent, voice(250, 280, 501, 1000)))).toEqual([false, ['rtf'], 'latency']);
    // A text-only turn has neither TTFA nor RTF to judge.
    expect(verdict(judge(voiceAgent, text(120, 900)))).toEqual([true, [], undefined]);
  });

  it('live captioning: first partial within 500 ms, RTF 0.8', () => {
    // No TTFA criterion: audio never heard passes.
    expect(verdict(judge(liveCaptioning, voice(500, undefined, 800, 1000)))).toEqual([true, [], undefined]);
    expect(verdict(judge(liveCaptioning, voice(500.5, undefined, 800, 1000)))).toEqual([false, ['ttftMs'], 'latency']);
    expect(verdict(judge(liveCaptioning, voice(200, undefined, 801, 1000)))).toEqual([false, ['rtf'], 'latency']);
    // Where the page cannot see the RTF the target means, it is dropped by overriding it.
    const captions = defineSlo({ ...liveCaptioning, name: 'captions', rtf: undefined });
    expect(verdict(judge(captions, voice(200, undefined, 2000, 1000)))).toEqual([true, [], undefined]);
  });

  it('interactive chat: TTFT 100 ms, TPOT 15 ms, end to end 5 s', () => {
    // Two tokens 150 ms apart: TPOT 150 ms.
    expect(verdict(judge(interactiveChat, text(100, 250)))).toEqual([false, ['tpotMs'], 'latency']);
    // 11 tokens 15 ms apart: TPOT exactly 15 ms.
    const chunks = (first: number, gap: number, n: number) => Array.from({ length: n }, (_, i) => first + gap * i);
    expect(verdict(judge(interactiveChat, text(...chunks(100, 15, 11))))).toEqual([true, [], undefined]);
    expect(verdict(judge(interactiveChat, text(...chunks(101, 15, 11))))).toEqual([false, ['ttftMs'], 'latency']);
    expect(verdict(judge(interactiveChat, text(...chunks(100, 15.1, 11))))).toEqual([false, ['tpotMs'], 'latency']);
    // Tokens 15 ms apart from 5 ms, the last at 5,000 ms (TPOT just under 15): within 5 s; at 5,015: not.
    expect(verdict(judge(interactiveChat, text(...chunks(5, 15, 334), 5000)))).toEqual([true, [], undefined]);
    expect(verdict(judge(interactiveChat, text(...chunks(5, 15, 335), 5015)))).toEqual([false, ['e2eMs'], 'latency']);
  });

  it('batch transcription: the transcript within 5 times the audio it covers', () => {
    // One transcript chunk covering 60 s of audio.
    const transcript = (at: number) => (turn: TurnRecord, clock: (ms: number) => number) => {
      turn.content(120, 60_000, clock(at));
      turn.end(clock(at));
    };
    expect(verdict(judge(batchTranscription, transcript(300_000)))).toEqual([true, [], undefined]);
    expect(verdict(judge(batchTranscription, transcript(300_001)))).toEqual([false, ['rtf'], 'latency']);
  });

  it('are accepted whole by createMonitor, which reads their criteria', () => {
    const monitor = createMonitor({ slo: voiceAgent });
    const turn = monitor.turn().start();
    turn.end();
    // No content: TTFT fails whatever the clock says.
    expect(monitor.summary()).toMatchObject({ objective: 0.99, turns: { valid: 1, good: 0 }, failedBy: { ttftMs: 1 } });
  });
});

describe('defineSlo', () => {
  it('fills the defaults, freezes, and is overridden by spreading', () => {
    const slo = defineSlo({ name: 'chat', ttftMs: 200 });
    expect(slo).toEqual({ name: 'chat', ttftMs: 200, objective: 0.99, windowMs: 30 * DAY_MS, windows: SRE_WINDOWS, minEvents: 10 });
    expect(Object.isFrozen(slo) && Object.isFrozen(slo.windows)).toBe(true);
    const line = defineSlo({ ...voiceAgent, name: 'support-line', ttfaMs: 400, objective: 0.995 });
    expect(line).toMatchObject({ name: 'support-line', ttftMs: 300, ttfaMs: 400, rtf: 0.5, objective: 0.995 });
  });

  it('rejects what would generate wrong rules, naming the field', () => {
    const bad: Array<[object, RegExp]> = [
      [{ name: 'Voice' }, /name must be lowercase/],
      [{ name: 'a-' }, /name must be lowercase/],
      [{ name: 'x'.repeat(64) }, /name must be lowercase/],
      [{ name: 'x', ttft: 300 }, /unknown field "ttft"/],
      [{ name: 'x', ttftMs: -1 }, /ttftMs must be a number ≥ 0 \(got -1\)/],
      [{ name: 'x', rtf: Infinity }, /rtf must be a number ≥ 0/],
      [{ name: 'x', objective: 1 }, /objective must be in \[0, 1\)/],
      [{ name: 'x', windowMs: 0 }, /windowMs must be a duration > 0/],
      [{ name: 'x', dropRate: 0 }, /dropRate must be in \(0, 1\]/],
      [{ name: 'x', windows: [] }, /windows must be a non-empty array/],
      [{ name: 'x', windows: [{ longMs: 60_000, shortMs: 120_000, factor: 2 }] }, /windows\[0\]\.shortMs must be a duration > 0, at most longMs/],
      [{ name: 'x', windows: [{ longMs: 60_000, shortMs: 6000, factor: 0 }] }, /windows\[0\]\.factor must be a number > 0/],
      [{ name: 'x', windows: [{ longMs: 60_000, shortMs: 6000 }] }, /windows\[0\]\.factor must be a number > 0 \(got undefined\)/],
      [{ name: 'x', windows: [{ longMs: 60_000, shortMs: 6000, factor: 2, severity: 'email' }] }, /severity must be "page" or "ticket"/],
    ];
    for (const [definition, message] of bad) expect(() => defineSlo(definition as never), JSON.stringify(definition)).toThrow(message);
  });

  it('pages on long windows of 6 h or less, tickets beyond, unless a window says', () => {
    expect(SRE_WINDOWS.map(severityOf)).toEqual(['page', 'page', 'ticket']);
    expect(severityOf({ longMs: DAY_MS, shortMs: 7_200_000, factor: 3 })).toBe('ticket');
    expect(severityOf({ longMs: DAY_MS, shortMs: 7_200_000, factor: 3, severity: 'page' })).toBe('page');
  });
});

describe('error budget by category', () => {
  /** A turn with first content at `ttft` that ends with `outcome`, after `before(turn)`. */
  function turnOf(recorder: Recorder, at: (ms: number) => number, ttft: number, outcome: 'complete' | 'error' | 'dropped' | 'abandoned', before?: (turn: TurnRecord) => void) {
    const turn = recorder.connection('fetch').startTurn(at(0));
    turn.content(1, undefined, at(ttft));
    before?.(turn);
    turn._finish(outcome, at(ttft), outcome === 'complete' ? undefined : `${outcome} reason`);
  }

  it('puts each bad turn in one category: the app verdict, then the outcome, then latency', () => {
    const { recorder, turns, at } = setup({ ttftMs: 100 });
    turnOf(recorder, at, 50, 'complete', (t) => t.quality(false, 'asr-mismatch'));
    turnOf(recorder, at, 500, 'error', (t) => t.quality(false, 'model not found', 'configuration'));
    turnOf(recorder, at, 500, 'dropped');
    turnOf(recorder, at, 500, 'complete');
    turnOf(recorder, at, 500, 'dropped', (t) => t.quality(false, 'partial transcript'));
    turnOf(recorder, at, 500, 'abandoned');
    turnOf(recorder, at, 50, 'complete', (t) => {
      t.quality(false, 'first guess');
      t.quality(true);
    });
    expect(turns.map((t) => [...verdict(t), t.reason])).toEqual([
      [false, ['quality'], 'quality', 'asr-mismatch'],
      // The turn's own reason stays; the app's verdict names the category.
      [false, ['configuration', 'outcome', 'ttftMs'], 'configuration', 'error reason'],
      [false, ['outcome', 'ttftMs'], 'infrastructure', 'dropped reason'],
      [false, ['ttftMs'], 'latency', undefined],
      [false, ['quality', 'outcome', 'ttftMs'], 'quality', 'dropped reason'],
      // An abandoned turn is never good and spends no budget.
      [false, ['outcome', 'ttftMs'], undefined, 'abandoned reason'],
      [true, [], undefined, undefined],
    ]);
  });

  it('takes a verdict until the report goes out, including while it waits for audio', () => {
    const { recorder, turns, at } = setup({});
    const late = recorder.connection('fetch').startTurn(at(0));
    late.content(1, undefined, at(10));
    late.end(at(20));
    late.quality(false, 'too late');
    const held = recorder.connection('websocket').startTurn(at(30));
    held.awaitAudio();
    held.content(0, 100, at(40));
    held.end(at(50));
    held.quality(false, 'wrong voice');
    held.audioHeard(at(60));
    expect(turns.map(verdict)).toEqual([
      [true, [], undefined],
      [false, ['quality'], 'quality'],
    ]);
    // 1 bad of 2 valid, against a budget of 1%: 50 budgets.
    expect(recorder.summary().budgetSpent!.quality).toBeCloseTo(50, 9);
  });

  it('sums the categories to the budget spent, in summary()', () => {
    // Objective 0.9: a budget of 1 turn in 10. 6 good, one bad of each category, one abandoned.
    const { recorder, at } = setup({ ttftMs: 100, objective: 0.9 });
    for (let i = 0; i < 6; i++) turnOf(recorder, at, 50, 'complete');
    turnOf(recorder, at, 50, 'dropped');
    turnOf(recorder, at, 150, 'complete');
    turnOf(recorder, at, 50, 'complete', (t) => t.quality(false, 'asr-mismatch'));
    turnOf(recorder, at, 50, 'error', (t) => t.quality(false, 'bad key', 'configuration'));
    turnOf(recorder, at, 50, 'abandoned');
    const s = recorder.summary();
    expect(s.turns).toMatchObject({ valid: 10, good: 6, abandoned: 1 });
    expect(s.failedBy).toEqual({ ttftMs: 1, ttfaMs: 0, tpotMs: 0, e2eMs: 0, maxGapMs: 0, rtf: 0, outcome: 2, quality: 1, configuration: 1 });
    // Each category: 1 bad / 10 valid / 0.1 = the whole budget; four of them: 4 budgets spent.
    for (const share of Object.values(s.budgetSpent!)) expect(share).toBeCloseTo(1, 12);
    expect(Object.keys(s.budgetSpent!)).toEqual(['infrastructure', 'latency', 'quality', 'configuration']);
    expect(s.budgetRemaining).toBeCloseTo(-3, 12);
    const spent = Object.values(s.budgetSpent!).reduce((a, b) => a + b, 0);
    expect(spent).toBeCloseTo(1 - s.budgetRemaining!, 12);
  });

  it('reports no shares before the first valid turn, and zeros for categories not spent', () => {
    const { recorder, at } = setup({ ttftMs: 100 });
    expect(recorder.summary().budgetSpent).toBeUndefined();
    turnOf(recorder, at, 50, 'abandoned');
    expect(recorder.summary().budgetSpent).toBeUndefined();
    turnOf(recorder, at, 50, 'complete');
    expect(recorder.summary().budgetSpent).toEqual({ infrastructure: 0, latency: 0, quality: 0, configuration: 0 });
  });

  it('multiplies model and infrastructure quality (the docs/slo.md example)', () => {
    // 100,000 turns: 0.1% dropped (infrastructure 99.9%), and 1% of the completed ones judged wrong
    // by the app (a 99%-accurate model). Goodput = 0.999 × 0.99 = 0.98901, under a 0.99 objective.
    const { recorder, at } = setup({ objective: 0.99 });
    for (let i = 0; i < 100_000; i++) {
      if (i < 100) turnOf(recorder, at, 50, 'dropped');
      else turnOf(recorder, at, 50, 'complete', i % 100 === 0 ? (t) => t.quality(false, 'asr-mismatch') : undefined);
    }
    const s = recorder.summary();
    expect(s.turns).toMatchObject({ valid: 100_000, good: 98_901 });
    expect(s.goodput).toBeCloseTo(0.999 * 0.99, 12);
    expect(s.budgetSpent!.infrastructure).toBeCloseTo(0.1, 12);
    expect(s.budgetSpent!.quality).toBeCloseTo(0.999, 12);
    expect(s.budgetRemaining).toBeCloseTo(-0.099, 12);
    // 100,000 turns take about a second; more on a busy machine.
  }, 30_000);
});

describe('names', () => {
  it('are the Prometheus names the Collector writes', () => {
    expect(prometheusName('earshot.turns', true)).toBe('earshot_turns_total');
    expect(prometheusName('slo.good')).toBe('slo_good');
    expect(prometheusName('gen_ai.client.operation.time_to_first_chunk')).toBe('gen_ai_client_operation_time_to_first_chunk');
    expect(PROMETHEUS).toEqual({
      turns: 'earshot_turns_total',
      connections: 'earshot_connections_total',
      outcome: 'outcome',
      good: 'slo_good',
      category: 'slo_category',
    });
  });
});
