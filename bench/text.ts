/**
 * Text smoothing benchmark: what the reader sees of bursty token and transcript streams, raw and
 * through the TextSmoother at a few bounds, against a fixed 10 ms per word pace (the AI SDK
 * `smoothStream` default). Streams are synthetic, from seeded models of how they arrive:
 *   - llm-steady: 30–60 tokens/s, each token its own message, a few ms of network jitter;
 *   - llm-bursty: the same generation delivered in bursts every 100–400 ms (server batching,
 *     network coalescing), plus per-burst network delay;
 *   - llm-stalls: bursty, with a 0.6–1.5 s stall before 5 % of the bursts;
 *   - cjk-bursty: Chinese, 1–2 characters per token, bursty;
 *   - transcript: speech recognised at ~150 words/min, a delta every 200–500 ms with the words
 *     recognised since the last one, often ending inside a word.
 * Simulated time: a push at each arrival, a poll at each arrival and at each time the smoother
 * schedules (as the browser wrapper's timers do), or with `60 Hz` only at frame starts.
 * Writes bench/results/text.md and prints it. Run: npx tsx bench/text.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { TextSmoother, type TextSmootherStats } from '../src/text/smoother';
import { rng } from './jitter-traces';

const SEEDS = 20;
const FRAME_MS = 1000 / 60;

interface Delta {
  at: number;
  text: string;
}

const EN = `Streaming text arrives in bursts. A model generates tokens at a steady rate on the server,
but the tokens reach the reader in clumps: the server batches its writes, proxies buffer them, and
the network coalesces packets, so a dozen words appear at once and then nothing for a few hundred
milliseconds. Reading that is tiring, because the eye jumps to each new block instead of following a
line. A small buffer in front of the display can pace the words at the rate they were generated, at
the cost of showing each one a little later. The question is how much later, and whether the reader
notices the difference. Measuring both sides answers it: the jitter of the stream as it arrived, the
jitter of the words as they were shown, and the delay that smoothing added to every word, with its
mean and its worst case. Transcripts have the same shape with longer gaps, since a recogniser sends
its hypothesis every few hundred milliseconds, often in the middle of a word.`.replace(/\s+/g, ' ');

const ZH =
  '流式文本总是成批到达。模型在服务器上以稳定的速度生成词元，但读者看到的却是一团一团的文字：服务器批量写出，代理缓存数据，网络合并数据包，于是十几个字同时出现，随后几百毫秒什么也没有。这样阅读很累，因为眼睛要跳到每一个新出现的段落，而不是顺着一行读下去。在显示之前加一个小缓冲区，就可以按照生成的速度逐字显示，代价是每个字稍晚一点出现。';

/** English split into tokens as a BPE tokenizer would, roughly: leading-space words, some in pieces. */
function englishTokens(rand: () => number): string[] {
  const tokens: string[] = [];
  EN.split(' ').forEach((word, i) => {
    const lead = i ? ' ' : '';
    const m = /^(.*?)([.,:;]?)$/.exec(word)!;
    let body = m[1];
    let first = true;
    while (body.length > 6 && rand() < 0.6) {
      const cut = 3 + Math.floor(rand() * (body.length - 5));
      tokens.push((first ? lead : '') + body.slice(0, cut));
      body = body.slice(cut);
      first = false;
    }
    tokens.push((first ? lead : '') + body);
    if (m[2]) tokens.push(m[2]);
  });
  return tokens;
}

function chineseTokens(rand: () => number): string[] {
  const tokens: string[] = [];
  for (let i = 0; i < ZH.length; ) {
    const n = rand() < 0.6 ? 1 : 2;
    tokens.push(ZH.slice(i, i + n));
    i += n;
  }
  return tokens;
}

/** Generation times of `count` tokens at a rate drawn in 30–60 tokens/s, ±15 % per token. */
function generate(count: number, rand: () => number): number[] {
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const step = 1000 / (30 + 30 * rand());
  const times: number[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) times.push((t += Math.max(1, step * (1 + 0.15 * normal()))));
  return times;
}

/** Network delay of one message: a base plus an exponential tail, never reordering. */
const network = (rand: () => number, meanMs: number): number => 20 - meanMs * Math.log(1 - rand());

function steady(tokens: string[], rand: () => number): Delta[] {
  let last = 0;
  return generate(tokens.length, rand).map((g, i) => ({ at: (last = Math.max(last, g + network(rand, 4))), text: tokens[i] }));
}

/** Tokens flushed every 100–400 ms (after a stall with probability `stall`), all at one arrival. */
function bursty(tokens: string[], rand: () => number, stall = 0): Delta[] {
  const gen = generate(tokens.length, rand);
  const out: Delta[] = [];
  let flush = gen[0];
  let last = 0;
  for (let i = 0; i < tokens.length; ) {
    flush += 100 + 300 * rand() + (rand() < stall ? 600 + 900 * rand() : 0);
    const at = (last = Math.max(last, flush + network(rand, 10)));
    for (; i < tokens.length && gen[i] <= flush; i++) out.push({ at, text: tokens[i] });
  }
  return out;
}

/** Words spoken at ~150/min; every 200–500 ms a delta with what was recognised since the last. */
function transcript(rand: () => number): Delta[] {
  const words = EN.split(' ');
  const text = words.join(' ');
  // Character position reached at each word's end, and when it was spoken.
  const ends: Array<[number, number]> = [];
  let t = 0;
  let pos = 0;
  for (const w of words) {
    pos += (ends.length ? 1 : 0) + w.length;
    ends.push([(t += 400 * (0.5 + rand())), pos]);
  }
  const out: Delta[] = [];
  let sent = 0;
  let now = 0;
  let last = 0;
  for (let k = 0; sent < text.length; ) {
    now += 200 + 300 * rand();
    while (k < ends.length && ends[k][0] <= now) k++;
    // Recognised: every word ended by now, and part of the word being spoken.
    const done = k ? ends[k - 1][1] : 0;
    const next = k < ends.length ? ends[k][1] : text.length;
    const upTo = k < ends.length ? done + Math.floor((next - done) * rand()) : text.length;
    if (upTo > sent) {
      out.push({ at: (last = Math.max(last, now + network(rand, 10))), text: text.slice(sent, upTo) });
      sent = upTo;
    }
  }
  return out;
}

const STREAMS: Array<[string, (rand: () => number) => Delta[]]> = [
  ['llm-steady', (r) => steady(englishTokens(r), r)],
  ['llm-bursty', (r) => bursty(englishTokens(r), r)],
  ['llm-stalls', (r) => bursty(englishTokens(r), r, 0.05)],
  ['cjk-bursty', (r) => bursty(chineseTokens(r), r)],
  ['transcript', transcript],
];

interface Result {
  arrivalJitterMs: number;
  displayJitterMs: number;
  displayMaxGapMs: number;
  delayMeanMs: number;
  delayMaxMs: number;
  /** Last text shown − last text arrived. */
  endLagMs: number;
  /** Share of units that were fragments of a word. */
  partialPct: number;
  /** Concatenated output equals the input. */
  exact: boolean;
}

/** Runs one stream through a smoother: polls at each scheduled release, or only at frame starts. */
function smooth(deltas: Delta[], maxDelayMs: number, frames: boolean): Result {
  const s = new TextSmoother({ maxDelayMs });
  let out = '';
  let shownAt = 0;
  const poll = (t: number): void => {
    const text = s.poll(t);
    if (text) {
      out += text;
      shownAt = t;
    }
  };
  let i = 0;
  let frame = 0;
  while (i < deltas.length || s.nextAt() < Infinity) {
    const arrival = i < deltas.length ? deltas[i].at : Infinity;
    if (frames) {
      const t = frame++ * FRAME_MS;
      for (; i < deltas.length && deltas[i].at <= t; i++) {
        s.push(deltas[i].text, deltas[i].at);
        if (i === deltas.length - 1) s.end(deltas[i].at);
      }
      poll(t);
      continue;
    }
    const t = Math.min(arrival, s.nextAt());
    for (; i < deltas.length && deltas[i].at === t; i++) {
      s.push(deltas[i].text, t);
      if (i === deltas.length - 1) s.end(t);
    }
    poll(t);
  }
  return result(s.stats(), shownAt - deltas[deltas.length - 1].at, out === deltas.map((d) => d.text).join(''));
}

function result(st: TextSmootherStats, endLagMs: number, exact: boolean): Result {
  return {
    arrivalJitterMs: st.arrivalJitterMs,
    displayJitterMs: st.displayJitterMs,
    displayMaxGapMs: st.displayMaxGapMs,
    delayMeanMs: st.delayMeanMs,
    delayMaxMs: st.delayMaxMs,
    endLagMs,
    partialPct: (100 * st.partial) / st.units,
    exact,
  };
}

/**
 * The AI SDK's `smoothStream({ delayInMs: 10, chunking: 'word' })`: a word is released once the
 * whitespace after it has arrived (regex /\S+\s+/), at least 10 ms after the one before; the rest
 * at the end. No bound on the delay. Stats as the smoother defines them.
 */
function fixedPace(deltas: Delta[]): Result {
  const units: Array<{ at: number; shown: number }> = [];
  let start = NaN;
  let inWord = false;
  let shown = -Infinity;
  const release = (complete: number): void => {
    shown = Math.max(complete, shown + 10);
    units.push({ at: start, shown });
  };
  for (const d of deltas) {
    for (const ch of d.text) {
      const space = /\s/.test(ch);
      if (space && inWord) {
        inWord = false;
        release(d.at);
        start = NaN;
      } else if (!space && !inWord) {
        inWord = true;
        start = d.at;
      }
    }
  }
  if (inWord) release(deltas[deltas.length - 1].at);
  const stats = { n: 0, mean: 0, m2: 0, max: 0 };
  const arr = { n: 0, mean: 0, m2: 0, max: 0 };
  const add = (s: typeof stats, v: number): void => {
    const d = v - s.mean;
    s.mean += d / ++s.n;
    s.m2 += d * (v - s.mean);
    s.max = Math.max(s.max, v);
  };
  let delaySum = 0;
  let delayMax = 0;
  units.forEach((u, k) => {
    delaySum += u.shown - u.at;
    delayMax = Math.max(delayMax, u.shown - u.at);
    if (k) {
      add(arr, u.at - units[k - 1].at);
      add(stats, u.shown - units[k - 1].shown);
    }
  });
  return {
    arrivalJitterMs: Math.sqrt(arr.m2 / arr.n),
    displayJitterMs: Math.sqrt(stats.m2 / stats.n),
    displayMaxGapMs: stats.max,
    delayMeanMs: delaySum / units.length,
    delayMaxMs: delayMax,
    endLagMs: shown - deltas[deltas.length - 1].at,
    partialPct: 0,
    exact: true,
  };
}

const CONFIGS: Array<[string, (d: Delta[]) => Result | undefined, number?]> = [
  ['raw (no smoothing)', (d) => smooth(d, 0, false)],
  ['fixed 10 ms/word', (d) => fixedPace(d)],
  ['earshot, max 100 ms', (d) => smooth(d, 100, false), 100],
  ['earshot, max 250 ms (default)', (d) => smooth(d, 250, false), 250],
  ['earshot, max 250 ms, 60 Hz polls', (d) => smooth(d, 250, true), 250 + FRAME_MS],
  ['earshot, max 500 ms', (d) => smooth(d, 500, false), 500],
];

const f1 = (v: number): string => v.toFixed(1);
const row = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |`;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

const lines = [
  '# Text smoothing benchmark',
  '',
  'Generated by `npx tsx bench/text.ts`: simulated time, so the figures do not depend on the machine.',
  `${SEEDS} seeded streams per family (see the header of bench/text.ts for the models). Units are words`,
  '(with their punctuation) or CJK characters. Jitter = σ of the intervals between consecutive units,',
  'as they arrived (first character) and as they were shown; units shown together count a zero',
  'interval. Added delay = shown − arrival of the unit’s first character (mean over units; max = worst',
  'unit of all streams). End lag = last text shown − last text arrived. Fragments = units that were',
  'part of a word, shown before the rest of it arrived. Means over streams unless marked worst.',
  '`raw` is the smoother with a 0 ms bound: text shown as it arrives, fragments of words included.',
  '`fixed 10 ms/word` is the AI SDK `smoothStream` default: a word goes out once the space after it',
  'has arrived, at least 10 ms after the one before, with no bound on the delay. Within bound: every',
  'unit shown no later than the bound after its arrival (with 60 Hz polls, the bound plus one frame).',
  '',
  row(['stream', 'release', 'jitter arrived ms', 'jitter shown ms', 'max gap shown ms', 'added delay mean ms', 'added delay max ms (worst)', 'end lag ms', 'fragments %', 'within bound']),
  row(Array(10).fill('---')),
];
const failures: string[] = [];
for (const [family, make] of STREAMS) {
  const streams = Array.from({ length: SEEDS }, (_, seed) => make(rng(seed * 104729 + family.length)));
  for (const [name, run, bound] of CONFIGS) {
    const results = streams.map((s) => (family === 'cjk-bursty' && name.startsWith('fixed') ? undefined : run(s)));
    if (results.some((r) => !r)) {
      lines.push(row([family, name, 'n/a: /\\S+\\s+/ never matches text without spaces', '', '', '', '', '', '', '']));
      continue;
    }
    const rs = results as Result[];
    const worst = Math.max(...rs.map((r) => r.delayMaxMs));
    const within = bound === undefined ? '' : worst <= bound + 1e-9 ? 'yes' : 'NO';
    if (within === 'NO') failures.push(`${family} / ${name}: max delay ${f1(worst)} ms over ${bound} ms`);
    if (!rs.every((r) => r.exact)) failures.push(`${family} / ${name}: output differs from the input`);
    lines.push(
      row([
        family,
        name,
        f1(mean(rs.map((r) => r.arrivalJitterMs))),
        f1(mean(rs.map((r) => r.displayJitterMs))),
        f1(mean(rs.map((r) => r.displayMaxGapMs))),
        f1(mean(rs.map((r) => r.delayMeanMs))),
        f1(worst),
        f1(mean(rs.map((r) => r.endLagMs))),
        f1(mean(rs.map((r) => r.partialPct))),
        within,
      ]),
    );
  }
}
lines.push('', failures.length ? `Failures:\n${failures.map((f) => `- ${f}`).join('\n')}` : 'Every earshot run: output identical to the input, every unit within its bound.', '');
const md = lines.join('\n');
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/text.md', import.meta.url), md);
console.log(md);
if (failures.length) process.exitCode = 1;
