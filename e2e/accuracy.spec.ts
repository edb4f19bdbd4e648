/**
 * Accuracy: what earshot reports against ground truth, in real Chromium.
 *
 * Exact, on every run: chunk and token counts (usage vs estimate), TPOT from the turn's own chunk
 * times, ITL statistics and stalls, audio ms and RTF, outcome; earshot never stamps t0 before the
 * app's call, nor a chunk after the app sees it.
 *
 * Timing, against two references:
 *  1. Truth: the app's own stamps of the same events, in the same page on the same clock (its first
 *     message listener on the very socket earshot observes; right after each body read() resolves;
 *     right before send()/fetch()). t0 within T0_MAX_MS; every ITL sample within TRUTH_MAX_MS
 *     (DESIGN.md's bar: earshot stamps right before the app's code and records after it, so the two
 *     stamps fall within one tick of either clock); TTFT within TRUTH_MAX_MS and one tick (its two
 *     ends are stamped on ticks, and the 100 µs clock's can each fall one tick apart).
 *  2. Network: the server's actual send times (its log) and its script; medians within 3 ms, every
 *     sample within 15 ms of the send gaps and 25 ms of the script.
 * On two cores shared by Chromium's renderer and network service, the server, a second worker and
 * whatever else runs, one preemption moves a stamp by up to ~25 ms and a starved renderer reads two
 * writes at once (measured). So each run through earshot sits between two native control runs of
 * the same scenario: when the app without earshot misses the network bounds too, the machine could
 * not deliver the schedule and the run is inconclusive for them, not a miss. Truth and network are
 * separate claims, each met by some run: a scenario is measured again, up to MAX_RUNS times, until
 * both are. Truth gets up to MAX_INTERRUPTED_RUNS while each run missed it by late stamps alone, at
 * most MAX_LATE_STAMPS of them: the app's stamp of a chunk came after earshot's by more than the
 * bound, every other within it (a GC or the OS between the two: CI runs saw one on three runs in a
 * row, 0.18-0.34 ms against a median of 0.02 ms, and two in one run, 0.31 and 1.20 ms). A systematic error misses on every run and fails with each run's tables.
 */
import { expect, test, type Page } from '@playwright/test';
import type { TurnReport } from '../src/core/types';
import {
  describeTurn,
  diffs,
  EXACT,
  httpUrl,
  median,
  openHarness,
  scripted,
  sendTimes,
  serverLog,
  serverLoopDelayMs,
  stddev,
  table,
  uniqueId,
  wsUrl,
} from './helpers';
import type { FetchRunOptions } from './pages/harness';
import { parseGaps } from './script';

const T0_MAX_MS = 0.1;
const TRUTH_MAX_MS = 0.1;
const SENT_TOL_MS = 15;
const SENT_MEDIAN_MS = 3;
const SCRIPT_TOL_MS = 25;
const SCRIPT_MEDIAN_MS = 3;
const MAX_RUNS = 3;
const MAX_INTERRUPTED_RUNS = 6;
const MAX_LATE_STAMPS = 2;
const STALL_MS = 50;
/** Clock values are multiples of 5 or 100 µs: differences of them carry float error. */
const TICK_SLACK = 1e-6;

interface Observed {
  label: string;
  turn: TurnReport | undefined;
  /** The app's stamp right before send()/fetch(). */
  rawT0: number;
  /** The app's stamp of each content message. */
  raw: number[];
  /** The server's send time of each content message (server clock: only differences are compared). */
  sent: number[];
  gaps: number[];
  /** Exact token count; undefined: one estimated token per content chunk. */
  usage?: number;
  /** Audio per content chunk, ms. */
  audioMsPerChunk?: number;
}

const abs = (xs: number[]): number[] => xs.map(Math.abs);
const worst = (xs: number[]): number => Math.max(0, ...abs(xs));
const minus = (a: readonly number[], b: readonly number[]): number[] => a.map((v, i) => v - b[i]);
const f = (x: number): string => x.toFixed(3);

/** Everything that does not depend on how the machine scheduled the run. */
function checkExact(o: Observed, turn: TurnReport): void {
  const { label } = o;
  const times = turn.chunkTimes ?? [];
  const n = times.length;
  expect(turn.outcome, `${label}: ${describeTurn(turn)}`).toBe('complete');
  expect(turn.chunks, `${label}: content chunks vs chunk times`).toBe(n);
  expect(n, `${label}: content chunks, earshot vs the app\n${table(['sdk', 'raw'], times, o.raw)}`).toBe(o.raw.length);
  expect(o.sent.length, `${label}: content messages the server sent`).toBe(o.gaps.length);
  // Earshot stamps t0 inside the call, and each chunk before the app's handler runs.
  expect(turn.t0, `${label}: earshot t0 before the app's call`).toBeGreaterThanOrEqual(o.rawT0);
  const behind = minus(o.raw, times);
  expect(Math.min(...behind), `${label}: a chunk stamped after the app saw it\n${table(['raw', 'sdk'], o.raw, times)}`)
    .toBeGreaterThanOrEqual(0);

  const itl = diffs(times);
  expect(Math.abs((turn.ttftMs ?? NaN) - (times[0] - turn.t0))).toBeLessThanOrEqual(EXACT);
  expect(turn.ttfbMs, `${label}: ttfb`).toBeLessThanOrEqual((turn.ttftMs ?? 0) + EXACT);
  expect(turn.itl.count, `${label}: ITL samples`).toBe(n - 1);
  // A busy renderer may hand the app a whole body in one read: then there are no gaps to compare
  // (and the network check finds the run disturbed).
  if (itl.length) {
    expect(Math.abs(turn.itl.min - Math.min(...itl))).toBeLessThanOrEqual(EXACT);
    expect(Math.abs(turn.itl.max - Math.max(...itl))).toBeLessThanOrEqual(EXACT);
    expect(Math.abs(turn.itl.mean - itl.reduce((a, b) => a + b, 0) / itl.length)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(turn.itl.stddev - stddev(itl)), `${label}: jitter`).toBeLessThanOrEqual(1e-6);
  }
  expect(turn.itl.stalls, `${label}: stalls over ${STALL_MS} ms`).toBe(itl.filter((g) => g > STALL_MS).length);
  const tokens = o.usage ?? n;
  expect(turn.tokens, `${label}: tokens`).toBe(tokens);
  expect(turn.tokensEstimated, `${label}: tokensEstimated`).toBe(o.usage === undefined);
  const tpot = (times[n - 1] - times[0]) / (tokens - 1);
  if (tokens > 1) expect(Math.abs((turn.tpotMs ?? NaN) - tpot), `${label}: tpot ${turn.tpotMs} vs ${tpot}`).toBeLessThanOrEqual(EXACT);
  if (o.audioMsPerChunk !== undefined) {
    expect(turn.audioMs, `${label}: audio ms`).toBe(o.audioMsPerChunk * n);
    expect(Math.abs((turn.rtf ?? NaN) - (times[n - 1] - turn.t0) / turn.audioMs)).toBeLessThanOrEqual(EXACT);
  }
}

/** Misses of `value <= bound`, with the table that explains them. */
class Misses {
  readonly list: string[] = [];
  constructor(private readonly label: string) {}
  bound(what: string, value: number, bound: number, detail = ''): void {
    if (!(value <= bound + TICK_SLACK)) this.list.push(`${this.label}: ${what} = ${f(value)} ms > ${bound} ms${detail && `\n${detail}`}`);
  }
  add(what: string, detail = ''): void {
    this.list.push(`${this.label}: ${what}${detail && `\n${detail}`}`);
  }
}

interface Truth {
  misses: string[];
  /** Chunks the app stamped more than the bound after earshot did. */
  late: number;
  /** There are misses, and they are the late stamps': none remain when the app's stamps stand for them. */
  lateStampsAlone: boolean;
  figures: string;
}

/** earshot against the app's own stamps of the same events. */
function checkTruth(o: Observed, turn: TurnReport, tickMs: number): Truth {
  const times = turn.chunkTimes ?? [];
  const rawItl = diffs(o.raw);
  const rawTtft = o.raw[0] - o.rawT0;
  const ttft = turn.ttftMs ?? NaN;
  const misses = (sdk: readonly number[], sdkTtft: number): Misses => {
    const m = new Misses(o.label);
    const itl = diffs(sdk);
    m.bound('t0, earshot - app', turn.t0 - o.rawT0, T0_MAX_MS);
    m.bound('ITL vs app, worst |diff|', worst(minus(itl, rawItl)), TRUTH_MAX_MS, table(['sdk', 'raw'], itl, rawItl));
    m.bound('TTFT vs app, |diff|', Math.abs(sdkTtft - rawTtft), TRUTH_MAX_MS + tickMs);
    return m;
  };
  const behind = minus(o.raw, times);
  const late = behind.flatMap((d, i) => (d > TRUTH_MAX_MS + TICK_SLACK ? [i] : []));
  // earshot's stamps with the app's standing for the late chunks (and for TTFT, if the first is one).
  const substituted = times.map((t, i) => (late.includes(i) ? o.raw[i] : t));
  const vsRaw = abs(minus(diffs(times), rawItl));
  return {
    misses: misses(times, ttft).list,
    late: late.length,
    lateStampsAlone: late.length > 0 && misses(substituted, ttft + substituted[0] - times[0]).list.length === 0,
    figures:
      `t0 Δ ${f(turn.t0 - o.rawT0)} | ITL vs app med ${f(median(vsRaw))} max ${f(worst(vsRaw))} | TTFT Δ ${f(ttft - rawTtft)} | ` +
      `app behind earshot med ${f(median(behind))} max ${f(worst(behind))}`,
  };
}

/** One side's content times (earshot's, or the native app's) against the server's sends and script. */
function checkNetwork(label: string, o: Observed, times: number[], ttft: number): { misses: string[]; figures: string } {
  const m = new Misses(label);
  if (times.length !== o.gaps.length) {
    m.add(`${times.length} content chunks for ${o.gaps.length} messages sent (reads coalesced)`);
    return { misses: m.list, figures: 'reads coalesced' };
  }
  const itl = diffs(times);
  const sentItl = diffs(o.sent);
  const vsSent = abs(minus(itl, sentItl));
  const sentTable = table(['recv', 'sent'], itl, sentItl);
  m.bound('ITL vs server send gaps, median |diff|', median(vsSent), SENT_MEDIAN_MS, sentTable);
  m.bound('ITL vs server send gaps, worst |diff|', worst(vsSent), SENT_TOL_MS, sentTable);
  const script = o.gaps.slice(1);
  const vsScript = abs(minus(itl, script));
  const scriptTable = table(['recv', 'script'], itl, script);
  m.bound('ITL vs script, median |diff|', median(vsScript), SCRIPT_MEDIAN_MS, scriptTable);
  m.bound('ITL vs script, worst |diff|', worst(vsScript), SCRIPT_TOL_MS, scriptTable);
  const stalls = (gaps: number[]): number => gaps.filter((g) => g > STALL_MS).length;
  if (stalls(itl) !== stalls(script)) m.add(`${stalls(itl)} gaps over ${STALL_MS} ms, script has ${stalls(script)}`, scriptTable);
  // Nothing arrives before the server sends it (its timers can fire up to 1 ms early).
  if (!(ttft >= o.gaps[0] - 1)) m.add(`ttft ${f(ttft)} ms before the first scripted gap ${o.gaps[0]} ms`);
  m.bound(`TTFT - first scripted gap ${o.gaps[0]}`, ttft - o.gaps[0], SCRIPT_TOL_MS);
  return {
    misses: m.list,
    figures: `vs sent med ${f(median(vsSent))} max ${f(worst(vsSent))} | vs script med ${f(median(vsScript))} max ${f(worst(vsScript))}`,
  };
}

interface Scenario {
  name: string;
  /** Scripted gaps of each turn. */
  gaps: string[];
  /** One run; `instrument: false` is the native control (no turn reports). */
  run(page: Page, gaps: string[], instrument: boolean): Promise<Observed[]>;
}

/** A fetch stream with one turn; without `usage`, one estimated token per content message. */
function fetchScenario(
  name: string,
  path: string,
  gaps: string,
  params: Record<string, string | number>,
  content: FetchRunOptions['content'],
  usage?: number,
): Scenario {
  return {
    name,
    gaps: [gaps],
    async run(page, [spec], instrument) {
      const id = uniqueId(path);
      const url = httpUrl(path, { ...params, gaps: spec, id, ...(usage ? { usage: 1, utok: usage } : {}) });
      const r = await page.evaluate((o) => window.harness.fetch(o), { url, instrument, read: 'reader', content } as FetchRunOptions);
      expect(r.error, `${name}: the app caught an error`).toBeUndefined();
      return [
        {
          label: name,
          turn: r.turns[0],
          rawT0: r.t0,
          raw: r.content,
          sent: sendTimes(await serverLog(page, id)),
          gaps: parseGaps(spec),
          usage,
        },
      ];
    },
  };
}

const scenarios: Scenario[] = [
  {
    name: 'WebSocket, default adapter',
    gaps: ['40,15x12', '25,10x5,100,10x5'],
    async run(page, [a, b], instrument) {
      const id = uniqueId('ws');
      const r = await page.evaluate((o) => window.harness.ws(o), {
        url: wsUrl({ id }),
        instrument,
        turns: [
          { send: scripted({ gaps: a }), expect: parseGaps(a).length },
          // The server closes normally 20 ms after the last message: the turn completes at the close.
          { send: scripted({ gaps: b, close: 1000 }), expect: parseGaps(b).length },
        ],
        finish: 'server' as const,
      });
      expect(r.timedOut).toBe(false);
      const log = await serverLog(page, id);
      return [a, b].map((spec, i) => ({
        label: `ws turn ${i + 1}`,
        turn: r.turns[i],
        rawT0: r.t0[i],
        raw: r.content[i],
        sent: sendTimes(log, `turn ${i} `),
        gaps: parseGaps(spec),
      }));
    },
  },
  {
    name: 'WebSocket, OpenAI Realtime text and audio',
    gaps: ['30,10x10', '30,20x8'],
    async run(page, [a, b], instrument) {
      const id = uniqueId('realtime');
      const create = (script: Record<string, string | number>) => scripted(script, { type: 'response.create' });
      const r = await page.evaluate((o) => window.harness.ws(o), {
        url: wsUrl({ id, format: 'realtime' }),
        instrument,
        adapter: 'openaiRealtime' as const,
        content: 'openai-realtime' as const,
        turns: [
          { send: create({ gaps: a, utok: 33 }), expect: parseGaps(a).length, awaitText: 'response.done' },
          // 960 bytes of 24 kHz PCM16 per delta: 20 ms of audio each.
          {
            send: create({ gaps: b, utok: 50, delta: 'response.output_audio.delta', bytes: 960 }),
            expect: parseGaps(b).length,
            awaitText: 'response.done',
          },
        ],
        finish: 'app' as const,
      });
      expect(r.timedOut).toBe(false);
      const log = await serverLog(page, id);
      const turn = (i: number, spec: string) => ({
        turn: r.turns[i],
        rawT0: r.t0[i],
        raw: r.content[i],
        sent: sendTimes(log, `turn ${i} `),
        gaps: parseGaps(spec),
      });
      return [
        { label: 'realtime text', ...turn(0, a), usage: 33 },
        { label: 'realtime audio', ...turn(1, b), usage: 50, audioMsPerChunk: 20 },
      ];
    },
  },
  fetchScenario('SSE OpenAI with usage', 'sse', '35,12x15', { format: 'openai' }, 'sse-openai', 48),
  fetchScenario('SSE OpenAI without usage', 'sse', '30,10x6,100,10x4', { format: 'openai' }, 'sse-openai'),
  fetchScenario('SSE Anthropic with usage', 'sse', '30,8x10,100,8x5', { format: 'anthropic' }, 'sse-anthropic', 40),
  fetchScenario('NDJSON Ollama with eval_count', 'ndjson', '30,10x12', { format: 'ollama' }, 'ndjson', 26),
  fetchScenario('chunked text body', 'chunks', '30,20x10', { format: 'text' }, 'every'),
];

/** A short run of the same scenario first, so what is measured is earshot, not V8 compiling it. */
const WARM_UP_GAPS = '5x3';

/** The network bounds in one run: met, missed, or not assessable (the native control missed them too). */
type Network = 'pass' | 'inconclusive' | 'miss';

interface Attempt {
  truthMet: boolean;
  /** Truth missed by late stamps alone, at most MAX_LATE_STAMPS (see checkTruth). */
  interrupted: boolean;
  network: Network;
  report: string;
}

/** One attempt: the run through earshot between two native control runs of the same scenario. */
async function attempt(page: Page, scenario: Scenario, tickMs: number): Promise<Attempt> {
  await serverLoopDelayMs(page);
  const before = await scenario.run(page, scenario.gaps, false);
  const observed = await scenario.run(page, scenario.gaps, true);
  const after = await scenario.run(page, scenario.gaps, false);
  const loopDelay = await serverLoopDelayMs(page);
  const truthMisses: string[] = [];
  const truths: Truth[] = [];
  const networkMisses: string[] = [];
  const controlMisses: string[] = [];
  const lines: string[] = [];
  observed.forEach((o, i) => {
    expect(o.turn, `${o.label}: no turn report`).toBeDefined();
    if (!o.turn) return;
    checkExact(o, o.turn);
    const truth = checkTruth(o, o.turn, tickMs);
    const network = checkNetwork(o.label, o, o.turn.chunkTimes ?? [], o.turn.ttftMs ?? NaN);
    const native = [before[i], after[i]].map((c) => checkNetwork(`${c.label} (native control)`, c, c.raw, c.raw[0] - c.rawT0));
    truths.push(truth);
    truthMisses.push(...truth.misses);
    networkMisses.push(...network.misses);
    controlMisses.push(...native.flatMap((n) => n.misses));
    lines.push(`${o.label}: ${truth.figures} | ${network.figures} | native ${native.map((n) => n.figures).join(' / ')}`);
  });
  const network: Network = networkMisses.length === 0 ? 'pass' : controlMisses.length > 0 ? 'inconclusive' : 'miss';
  const misses = [...truthMisses, ...networkMisses, ...(network === 'pass' ? [] : controlMisses)];
  const lateStamps = truths.reduce((n, t) => n + t.late, 0);
  const interrupted =
    truthMisses.length > 0 && lateStamps <= MAX_LATE_STAMPS && truths.every((t) => t.misses.length === 0 || t.lateStampsAlone);
  const truth = truthMisses.length ? `missed${interrupted ? ` by ${lateStamps} late stamp${lateStamps > 1 ? 's' : ''}` : ''}` : 'met';
  const head = `truth ${truth}, network ${network} (server event-loop delay up to ${f(loopDelay)} ms)`;
  return {
    truthMet: truthMisses.length === 0,
    interrupted,
    network,
    report: `${head}: ${lines.join('\n  ')}${misses.length ? `\n${misses.join('\n')}` : ''}`,
  };
}

// Every scenario on the fine clock of a cross-origin isolated page; one per transport on the 100 µs
// clock most apps have, whose coarser ticks the bounds allow for.
const DEFAULT_CLOCK_SCENARIOS = ['WebSocket, default adapter', 'SSE OpenAI with usage'];

for (const coi of [true, false]) {
  test.describe(coi ? 'accuracy, cross-origin isolated (5 µs clock)' : 'accuracy, default clock (100 µs)', () => {
    for (const scenario of scenarios.filter((s) => coi || DEFAULT_CLOCK_SCENARIOS.includes(s.name))) {
      test(scenario.name, async ({ page }) => {
        await openHarness(page, { coi });
        await page.evaluate((stallMs) => window.harness.newMonitor({ stallMs }), STALL_MS);
        await scenario.run(page, scenario.gaps.map(() => WARM_UP_GAPS), true);
        // Truth and network are separate claims: each needs one run the machine did not disturb.
        const attempts: Attempt[] = [];
        const met = (): boolean => attempts.some((a) => a.truthMet) && attempts.some((a) => a.network === 'pass');
        const more = (run: number): boolean =>
          run <= MAX_RUNS ||
          (run <= MAX_INTERRUPTED_RUNS && !attempts.some((a) => a.truthMet) && attempts.every((a) => a.interrupted));
        for (let run = 1; more(run) && !met(); run++) {
          const a = await attempt(page, scenario, coi ? 0.005 : 0.1);
          attempts.push(a);
          console.log(`[${coi ? 'coi' : 'default'}] run ${run} ${a.report}`);
        }
        const reports = attempts.map((a, i) => `run ${i + 1} ${a.report}`).join('\n\n');
        expect(attempts.some((a) => a.truthMet), `truth bounds missed on every run\n\n${reports}`).toBe(true);
        expect(attempts.some((a) => a.network !== 'miss'), `network bounds missed on every run\n\n${reports}`).toBe(true);
        if (!attempts.some((a) => a.network === 'pass')) {
          test.info().annotations.push({
            type: 'network bounds not assessed',
            description: 'the native control runs missed them as well',
          });
        }
        expect(await page.evaluate(() => window.harness.internalErrors())).toBe(0);
      });
    }
  });
}

test('goodput and per-criterion failures are exact', async ({ page }) => {
  await openHarness(page);
  await page.evaluate(() => window.harness.newMonitor({ slo: { ttftMs: 1000, tpotMs: 15 } }));
  // Good: TPOT about 0.5 ms (100 tokens). Slow tokens: TPOT about 80 ms (6 tokens). Slow start: TTFT
  // 1500 ms or more. Crossing a bound would take a stall of almost a second (a busy machine once
  // stalled a 30 ms first token to 408 ms).
  const plans = [
    { gaps: '30,5x10', utok: 100 },
    { gaps: '30,80x5', utok: 6 },
    { gaps: '1500,5x3', utok: 100 },
  ];
  const turns: TurnReport[] = [];
  for (const plan of plans) {
    const url = httpUrl('sse', { ...plan, usage: 1, id: uniqueId('goodput') });
    const r = await page.evaluate((u) => window.harness.fetch({ url: u, instrument: true, read: 'reader' }), url);
    turns.push(...r.turns);
  }
  expect(turns.map((t) => t.slo), turns.map(describeTurn).join('\n')).toEqual([
    { good: true, failed: [] },
    { good: false, failed: ['tpotMs'], category: 'latency' },
    { good: false, failed: ['ttftMs'], category: 'latency' },
  ]);
  const summary = await page.evaluate(() => window.harness.summary());
  expect(summary.turns).toEqual({ started: 3, open: 0, complete: 3, error: 0, dropped: 0, abandoned: 0, valid: 3, good: 1 });
  expect(summary.goodput).toBe(1 / 3);
  expect(summary.failedBy).toEqual({ ttftMs: 1, ttfaMs: 0, tpotMs: 1, e2eMs: 0, maxGapMs: 0, rtf: 0, outcome: 0, quality: 0, configuration: 0 });
  expect(summary.connections).toMatchObject({ opened: 3, active: 0, clean: 3, dropped: 0, abandoned: 0 });
  expect(summary.dropRate).toBe(0);
  expect(summary.ttft.count).toBe(3);
  expect(summary.itl.count).toBe(10 + 5 + 3);
});
