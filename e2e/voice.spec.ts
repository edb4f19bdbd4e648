/**
 * Voice-to-voice latency in real Chromium: the microphone is Chromium's fake capture device playing
 * e2e/fixtures/speech.wav (two utterances), the app (e2e/pages/voice.ts, on the built entries) talks
 * Realtime events to e2e/voice-server.ts, whose reply audio starts D ms after it receives the end of
 * speech, and plays it through the jitter-buffer player.
 *
 * How each part of each voice turn is checked:
 * - On the client, every stamp earshot takes is bracketed by the app's own: t0 lies between the
 *   app's stamps around its `send` of the request; the first byte and the first content come at most
 *   5 ms before the app's handler of the same message (earshot stamps it right before calling it); the
 *   audio queued lies between the app's stamps around its first push; the heard time is the player's
 *   `playing` time. So each part is the app's own figure within 5 ms.
 * - Against the server's log (its own clock, durations only): request -> first byte is the server's
 *   gap (request received -> `response.created` sent) plus the network: the page's loopback as the
 *   page's own probe times it over the same window (a plain WebSocket echoed by the server every
 *   20 ms: its median), within 5 ms, and 2L more through a shaping proxy adding L each way. That
 *   loopback is not a constant: through Chromium's network service on two cores it measured a
 *   median of 2.4-3.4 ms on an idle page, and on this one (microphone capture, three worklets)
 *   single echoes up to 29 ms. First byte -> first content is the server's gap (`response.created` ->
 *   first audio) within 5 ms, as the network delays both alike.
 * - The parts add up to voiceToVoiceMs, the `playing` time less the end of speech; what is left once
 *   the VAD's wait, the server's D and the audio path (queue, buffer, output) are taken away is the
 *   loopback, within 5 ms of the probe's.
 * Exact claims (the parts add up, t0 and the queue inside the app's brackets, the source) hold on
 * every run. The 5 ms and 20 ms bounds hold only when the machine does not stall the browser or the
 * server mid-run (a loaded machine does, by tens or hundreds of ms): they need one run of up to three
 * that meets them all, and every miss is reported. The server (e2e/voice-server.ts) runs in its own
 * process, at real-time priority where the machine allows it, and measures its event loop: in a run
 * where it was late by more than 5 ms, the bounds on
 * its log cannot be assessed; if no run meets every bound, one that met the client bounds while the
 * server was late passes, annotated as not assessed (as the accuracy suite does with its controls).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './chromium';
import { pageErrors } from './helpers';
import type { PagePlayerOptions, VoicePageState } from './pages/voice';
import { spawnVoiceServer, type ServerEntry, type VoiceServer } from './voice-server';
import type { VoiceTurnReport } from '../src/microphone';
import { startShapingProxy } from '../src/playwright/shaping';

const ROOT = resolve(import.meta.dirname, '..');
const WAV = join(ROOT, 'e2e/fixtures/speech.wav');
const APP = join(ROOT, 'e2e/artifacts/voice-app');
const ENTRIES = ['earshot.js', 'jitter-buffer.js', 'jitter-buffer-worklet.js', 'microphone.js', 'vad-worklet.js'];
/** End of speech to the reply's first audio, at the server: D. */
const D = 300;
/** End of speech to `response.created`. */
const CREATED = 100;
/** Shaped latency each way: L. */
const L = 100;
/** How far each part may be from its ground truth, ms. */
const PART_MS = 5;
/** The loopback of a turn is probed from this long before its request to this long after its first byte. */
const LOOPBACK_MARGIN_MS = 250;
/** The utterances of speech.wav: two voice turns. */
const TURNS = 2;

/** Runs per test, at most, to find one the machine did not stall. */
const ATTEMPTS = 3;

// One test at a time, in order: two pages capturing and playing audio at once would share the cores.
test.describe.configure({ mode: 'default' });

test.use({
  // No trace recording: it would compete with the timing for the worker and the browser.
  trace: 'off',
  launchOptions: {
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${WAV}%noloop`],
  },
});

let server: VoiceServer;
test.beforeAll(async () => {
  // A snapshot of the built entries, so that a rebuild of dist/ while this runs cannot take them away.
  mkdirSync(APP, { recursive: true });
  for (const file of ENTRIES) {
    const from = join(ROOT, 'dist', file);
    for (let waited = 0; !(existsSync(from) && statSync(from).size > 0); waited += 500) {
      if (waited > 60_000) throw new Error(`dist/${file} is missing: run npm run build`);
      await new Promise((r) => setTimeout(r, 500));
    }
    copyFileSync(from, join(APP, file));
  }
  expect(readFileSync(join(APP, 'microphone.js'), 'utf8'), 'dist/ holds earshot/microphone with voiceTurns').toContain('voiceTurns');
  server = await spawnVoiceServer({ replyAfterMs: D, createdAfterMs: CREATED });
});
test.afterAll(() => server?.close());

const round = (v: number | undefined) => (v === undefined ? v : Math.round(v * 10) / 10);

/** Runs the app against `url` until both replies have been heard; returns what it saw and the server's log. */
async function run(page: Page, url: string, mode: 'vad' | 'server', player: PagePlayerOptions = {}) {
  const connections = (await server.logs()).length;
  await page.goto('/e2e/pages/voice.html');
  await page.waitForFunction(() => typeof window.voicePage?.run === 'function', undefined, { timeout: 30_000 });
  await page.evaluate(([u, ping, m, p]) => window.voicePage.run(u, ping, m, p), [url, server.pingUrl, mode, player] as const);
  await expect.poll(() => page.evaluate(() => window.voicePage.state.voice.length), { timeout: 20_000 }).toBe(TURNS);
  const state = await page.evaluate(() => window.voicePage.state);
  const summary = state.voice
    .map((r) => `${r.turnId} ${r.source} v2v=${round(r.voiceToVoiceMs)} ${JSON.stringify(Object.fromEntries(Object.entries(r.parts).map(([k, v]) => [k, round(v)])))}`)
    .join('\n');
  test.info().annotations.push({ type: `voice turns (${mode})`, description: summary });
  console.log(summary);
  expect(state.errors).toEqual([]);
  return { state, log: (await server.logs())[connections] };
}

/** Server times of the entries of kind `what`, one per reply (audio: the first delta of each). */
function times(log: ServerEntry[], what: ServerEntry['what']): number[] {
  return log.filter((e, i) => e.what === what && (what !== 'audio' || log[i - 1].what !== 'audio')).map((e) => e.t);
}

/**
 * The bounds of one run that a stall of the machine can break, each miss named: `client` bounds
 * compare earshot with the page's own stamps; `server` bounds involve the server's log and timers.
 */
class Timing {
  readonly misses: Record<'client' | 'server', string[]> = { client: [], server: [] };
  within(kind: 'client' | 'server', name: string, value: number, low: number, high: number): void {
    if (!(value >= low && value <= high)) this.misses[kind].push(`${name}: ${round(value)} not in [${low}, ${high}]`);
  }
}

/**
 * Runs `once` until a run meets every timing bound, `ATTEMPTS` times at most. A run in which the
 * server's event loop was itself late by more than PART_MS cannot assess the server bounds (the
 * server could not keep its schedule or its log): if no run met every bound, one that met the client
 * bounds in such a run passes, annotated; otherwise the test fails listing the misses of each run.
 */
async function attempts(once: (timing: Timing) => Promise<void>): Promise<void> {
  const missed: string[] = [];
  let unassessed: string | undefined;
  for (let n = 1; n <= ATTEMPTS; n++) {
    const timing = new Timing();
    await server.loopDelayMs();
    await once(timing);
    const late = await server.loopDelayMs();
    const { client, server: onServer } = timing.misses;
    const assessable = late <= PART_MS;
    if (client.length === 0 && onServer.length === 0) {
      if (n > 1) test.info().annotations.push({ type: 'timing bounds met on a later run', description: missed.join('\n') });
      return;
    }
    if (client.length === 0 && !assessable) unassessed ??= `run ${n}: the server's event loop was late by up to ${round(late)} ms`;
    missed.push(`run ${n} (the server's event loop late by up to ${round(late)} ms): ${[...client, ...onServer].join('; ')}`);
    console.log(missed[missed.length - 1]);
  }
  if (unassessed) {
    test.info().annotations.push({ type: 'server-side timing bounds not assessed', description: `${unassessed}\n${missed.join('\n')}` });
    return;
  }
  expect(missed, 'timing bounds missed on every run').toEqual([]);
}

/** `value` within [low, high]: a claim that holds on every run. */
function within(name: string, value: number, low: number, high: number): void {
  expect(value, name).toBeGreaterThanOrEqual(low);
  expect(value, name).toBeLessThanOrEqual(high);
}

/**
 * The page's loopback round trip while a turn's request and reply crossed it: the median of its
 * probe's echoes sent from LOOPBACK_MARGIN_MS before the request to as long after the first byte.
 */
function loopbackMs(state: VoicePageState, from: number, to: number): { median: number; range: string } {
  const rtts = state.pings.filter(([at]) => at >= from - LOOPBACK_MARGIN_MS && at <= to + LOOPBACK_MARGIN_MS).map(([, rtt]) => rtt);
  expect(rtts.length, 'loopback probes around the turn').toBeGreaterThan(2);
  const sorted = [...rtts].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], range: `${round(sorted[0])}-${round(sorted[sorted.length - 1])}` };
}

/**
 * The checks every run shares, per voice turn (see the top of this file). `start` is the server's
 * end of speech: the request it received, or the end its own VAD detected. Returns, per turn, what
 * the network added to request -> first byte, the page's loopback then, and the server's actual D
 * (its timers may run late).
 */
function checkParts(state: VoicePageState, log: ServerEntry[], start: 'request' | 'speech_stopped', timing: Timing) {
  const { voice, firstMessage, firstAudio, pushes, playing } = state;
  const starts = times(log, start);
  const created = times(log, 'created');
  const audio = times(log, 'audio');
  expect([voice, starts, created, audio, firstMessage, firstAudio, pushes, playing].map((a) => a.length)).toEqual(Array(8).fill(TURNS));
  return voice.map((r, i) => {
    const p = r.parts;
    const { t0, ttfbMs, ttftMs } = r.turn;
    const sum = p.speechToRequestMs + p.requestToFirstByteMs! + p.firstByteToFirstContentMs! + p.firstContentToAudioQueuedMs! + p.audioQueuedToHeardMs!;
    expect(Math.abs(sum - r.voiceToVoiceMs!), 'the parts add up').toBeLessThan(1e-6);
    expect(Math.abs(r.voiceToVoiceMs! - (playing[i] - r.speechEndAt)), 'heard (the player) less the end of speech').toBeLessThan(1e-6);
    // Client stamps, bracketed by the app's.
    const queued = t0 + ttftMs! + p.firstContentToAudioQueuedMs!;
    within('audio queued, during the first push', queued, pushes[i][0], pushes[i][1]);
    timing.within('client', `${r.turnId} first byte, before the app handler of the first message`, firstMessage[i] - (t0 + ttfbMs!), 0, PART_MS);
    timing.within('client', `${r.turnId} first content, before the app handler of the first audio`, firstAudio[i] - (t0 + ttftMs!), 0, PART_MS);
    // Against the server's log.
    const serverD = audio[i] - starts[i];
    expect(serverD, 'the server sent the first audio D after the end of speech').toBeGreaterThanOrEqual(D - 0.5);
    const firstByte = start === 'request' ? created[i] : starts[i];
    const serverGap = audio[i] - firstByte;
    timing.within('server', `${r.turnId} first byte -> first content, less the server gap`, p.firstByteToFirstContentMs! - serverGap, -PART_MS, PART_MS);
    // The audio path adds at least the output latency the context reports.
    expect(p.audioQueuedToHeardMs!).toBeGreaterThanOrEqual(state.outputLatencyMs - 1);
    const network = p.requestToFirstByteMs! - (firstByte - starts[i]);
    const loopback = loopbackMs(state, t0, t0 + ttfbMs!);
    console.log(`${r.turnId}: request -> first byte less the server gap ${round(network)} ms, loopback probe median ${round(loopback.median)} ms (${loopback.range})`);
    return { network, loopback, serverD };
  });
}

/** The VAD path: the end of speech is the app's request. */
async function vadRun(page: Page, url: string, timing: Timing, player?: PagePlayerOptions) {
  const { state, log } = await run(page, url, 'vad', player);
  expect(state.voice.map((r) => [r.source, r.speechEndAt])).toEqual(state.speechEnds.map((e) => ['vad', e.time]));
  for (const [i, r] of state.voice.entries()) {
    // t0 is taken inside the app's send of the request, once the VAD could tell (its hangover).
    within('the request leaves during the send', r.turn.t0, state.requests[i][0], state.requests[i][1]);
    const hangover = state.speechEnds[i].detectedAt - state.speechEnds[i].time;
    expect(r.parts.speechToRequestMs).toBeGreaterThanOrEqual(hangover - PART_MS);
  }
  return { state, checked: checkParts(state, log, 'request', timing) };
}

test('voice-to-voice from the VAD end of speech: each part matches its ground truth, the whole is D + loopback + buffer + output', async ({ page }) => {
  test.setTimeout(150_000);
  const errors = pageErrors(page);
  await attempts(async (timing) => {
    const { state, checked } = await vadRun(page, server.url, timing);
    for (const [i, r] of state.voice.entries()) {
      const { network, loopback, serverD } = checked[i];
      const rtt = `the loopback (${round(loopback.median)} ms, probes ${loopback.range})`;
      timing.within('server', `${r.turnId} request -> first byte, less the server gap: ${rtt}`, network - loopback.median, -PART_MS, PART_MS);
      const p = r.parts;
      const rest = r.voiceToVoiceMs! - p.speechToRequestMs - serverD - p.firstContentToAudioQueuedMs! - p.audioQueuedToHeardMs!;
      timing.within('server', `${r.turnId} voice-to-voice less the VAD wait, D, the app push and the audio path: ${rtt}`, rest - loopback.median, -PART_MS, PART_MS);
    }
  });
  expect(errors).toEqual([]);
});

test('through a shaping proxy adding L each way, voice-to-voice grows by 2L, all of it in request -> first byte', async ({ page }) => {
  test.setTimeout(240_000);
  // The buffer set to play at once, so that its adaptive start (0 or a prior of 150 ms, by what it
  // has seen) does not differ between the runs.
  const player = { maxDelayMs: 0 };
  const proxy = await startShapingProxy({ target: server.url, latencyMs: L });
  try {
    await attempts(async (timing) => {
      const plain = await vadRun(page, server.url, timing, player);
      const shaped = await vadRun(page, `${proxy.url.replace(/^http/, 'ws')}/`, timing, player);
      for (const [i, { network, loopback }] of shaped.checked.entries()) {
        const rtt = `2L and the loopback (${round(loopback.median)} ms, probes ${loopback.range})`;
        timing.within('server', `t${i + 1} request -> first byte, less the server gap: ${rtt}`, network - loopback.median, 2 * L - PART_MS, 2 * L + PART_MS);
      }
      // Means over the turns of a run; the growth less the change of the page's loopback between the runs.
      const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
      const loopbacks = (run: typeof plain) => mean(run.checked.map((c) => c.loopback.median));
      const growth = (f: (r: VoiceTurnReport) => number) =>
        mean(shaped.state.voice.map(f)) - mean(plain.state.voice.map(f)) - (loopbacks(shaped) - loopbacks(plain));
      const v2v = growth((r) => r.voiceToVoiceMs!);
      console.log(`voice-to-voice grew by ${round(v2v)} ms with L = ${L} ms each way (less the loopback's change)`);
      timing.within('server', 'request -> first byte growth', growth((r) => r.parts.requestToFirstByteMs!), 2 * L - PART_MS, 2 * L + PART_MS);
      // The other stages do not depend on the network; the VAD's event delivery, the server's timers
      // and the audio's start on a render callback (10 ms) vary a little between runs.
      timing.within('server', 'voice-to-voice growth', v2v, 2 * L - 3 * PART_MS, 2 * L + 3 * PART_MS);
    });
  } finally {
    await proxy.close();
  }
});

test('voice-to-voice from the server VAD: audio_end_ms mapped through the appends lands within 20 ms of the local VAD', async ({ page }) => {
  test.setTimeout(150_000);
  const errors = pageErrors(page);
  await attempts(async (timing) => {
    const { state, log } = await run(page, `${server.url}?vad=server`, 'server');
    expect(state.appends).toBeGreaterThan(300);
    expect(state.speechEnds).toHaveLength(TURNS);
    const stopped = log.filter((e) => e.what === 'speech_stopped');
    for (const [i, r] of state.voice.entries()) {
      const local = state.speechEnds[i].time;
      console.log(`${r.turnId}: audio_end_ms ${stopped[i].audioEndMs} -> ${round(r.speechEndAt)}; local VAD ${round(local)} (${round(r.speechEndAt - local)} ms)`);
      expect(r.source).toBe('server');
      timing.within('client', `${r.turnId} the server end of speech, mapped, less the local VAD`, r.speechEndAt - local, -20, 20);
      // The turn starts when `speech_stopped` arrives, its first byte too: the first part is the
      // server's hangover and the trip back (less, if a stall held the appends back, what it delayed).
      expect(r.parts.requestToFirstByteMs).toBe(0);
      timing.within('client', `${r.turnId} end of speech -> speech_stopped, at least the hangover`, r.parts.speechToRequestMs, 400 - PART_MS, Infinity);
    }
    checkParts(state, log, 'speech_stopped', timing);
  });
  expect(errors).toEqual([]);
});
