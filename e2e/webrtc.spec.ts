/**
 * earshot/webrtc in real Chromium against a real peer: a werift voice agent in its own process
 * (e2e/webrtc-peer.ts) that answers the page's offer, sends an Opus track paced at 20 ms with a tone
 * at a scripted moment of each turn, and streams OpenAI-Realtime-like events over a data channel.
 *
 * - Turns over the data channel: earshot's TTFT and ITL against the app's own listener on the same
 *   channel, in the same (cross-origin isolated, 5 µs clock) page.
 * - TTFA over the audio track: earshot's heard time of the tone's first sample against Chromium's
 *   own record of playing it: when the jitter buffer handed the frame holding the onset packet's RTP
 *   timestamp to the device path (`getSynchronizationSources()`, read densely by the page), plus the
 *   device path's delay (`media-playout` stats). Also through Web Audio, where the frames path is
 *   not available.
 * - Inbound audio stats: send jitter injected at the agent shows up as more jitter-buffer delay per
 *   emitted sample, in Chromium's counters and in earshot's per-turn report alike.
 * - Drops: the agent's process killed is a drop after the grace time; the app's close is abandoned.
 *
 * The page loads earshot/webrtc from a build of src/webrtc.ts made here with the library's own
 * minifier settings, so the test runs the sources as they are.
 */
import { expect, test, type Page } from '@playwright/test';
import { build } from 'vite';
import { terserOptions } from '../build/entries';
import type { ConnectionReport, TurnReport } from '../src/core/types';
import type { AudioStats } from '../src/webrtc';
import { diffs, median } from './helpers';
import { PACKET_MS, spawnPeer, type PeerProcess } from './webrtc-peer';

const BUILD_DIR = 'e2e/artifacts/webrtc';
/**
 * earshot's stamps against the app's, as for WebSocket (e2e/accuracy.spec.ts): every ITL sample
 * within 0.1 ms (DESIGN.md's bar), TTFT within that and one 5 µs tick (each end is stamped on a
 * tick). earshot stamps inside the app's listener right before calling it and records the message
 * after it, so nothing of earshot's runs between the two stamps.
 */
const TRUTH_MAX_MS = 0.1;
const TTFT_MAX_MS = TRUTH_MAX_MS + 0.005;
/** Heard time against Chromium's record, which places the onset within a 10 ms frame. */
const TTFA_MS = 30;
const MAX_RUNS = 3;
/**
 * A text turn takes well under a second: on a machine busy with other tests it is measured up to this
 * many times for one run the scheduler left alone.
 */
const TEXT_RUNS = 8;

test.describe.configure({ mode: 'serial' });

async function openPage(page: Page): Promise<void> {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`/e2e/pages/webrtc.html?coi=1&webrtc=/${BUILD_DIR}/webrtc.js`);
  await page.waitForFunction(() => window.rtc?.ready === true, undefined, { timeout: 25_000 }).catch(() => {
    throw new Error(`the page did not load (is dist/ built?): ${errors.join('; ') || 'no error reported'}`);
  });
}

interface TurnResult {
  done: boolean;
  t0: number;
  content: number[];
  next: number[];
  report?: TurnReport;
  /** Each audio frame Chromium played: [performance.now() ms it was played out, its RTP timestamp]. */
  frames: Array<[number, number]>;
  /** Mean delay from play-out to the device over the turn (media-playout), ms. */
  playoutDelayMs?: number;
}

/** Opus (as encoded by the agent) delays its output by 312 samples at 48 kHz: where the tone starts in the decoded frame. */
const OPUS_DELAY_MS = 312 / 48;

/**
 * When Chromium played the tone's first sound: the frame holding the onset packet's RTP timestamp
 * was played out at its recorded time, and the sound starts `OPUS_DELAY_MS` into it (a frame seen
 * later is stepped back by its media offset).
 */
function playedOut(frames: TurnResult['frames'], onsetRtp: number): number | undefined {
  // RTP timestamps wrap at 2^32: compare by signed distance.
  const after = (rtp: number) => ((rtp - onsetRtp) | 0) >= 0;
  const frame = frames.find(([, rtp]) => after(rtp));
  return frame && frame[0] + OPUS_DELAY_MS - ((frame[1] - onsetRtp) | 0) / 48;
}

interface State {
  turns: TurnReport[];
  connections: ConnectionReport[];
  turnAudio: Array<{ id: string; stats: AudioStats }>;
  errors: string[];
  internalErrors: number;
  lifetime: AudioStats;
  interval: AudioStats;
  connectionState: RTCPeerConnectionState;
  events: string[];
}

interface StartOptions {
  peer: string;
  id: string;
  jitter?: number;
  channel?: string;
  graceMs?: number;
  statsIntervalMs?: number;
  patch?: boolean;
}

interface Rtc {
  ready: boolean;
  start(o: StartOptions): Promise<{ open: boolean; state: string; isPeerConnection: boolean }>;
  turn(script: Record<string, unknown>, o?: { audio?: number }): Promise<TurnResult>;
  state(): Promise<State>;
  now(): number;
  connectionsReported(n: number, timeoutMs: number): Promise<{ ok: boolean; at: number }>;
  close(): void;
  send(script: Record<string, unknown>): void;
  rawStats(): Promise<{ delay: number; emitted: number }>;
}

declare global {
  interface Window {
    rtc: Rtc;
  }
}

async function start(page: Page, options: StartOptions): Promise<void> {
  const r = await page.evaluate((o) => window.rtc.start(o), options);
  expect(r, 'the session came up').toMatchObject({ open: true, isPeerConnection: true });
}

const turn = (page: Page, script: Record<string, unknown>, audio = 0) =>
  page.evaluate(([s, a]) => window.rtc.turn(s, { audio: a }), [script, audio] as const);
const state = (page: Page) => page.evaluate(() => window.rtc.state());
const send = (page: Page, script: Record<string, unknown>) => page.evaluate((s) => window.rtc.send(s), script);
const now = (page: Page) => page.evaluate(() => window.rtc.now());
const close = (page: Page) => page.evaluate(() => window.rtc.close());

/**
 * The agent's first talkspurt runs on cold code (its packets leave up to 200 ms late), and a jitter
 * buffer keeps for a long while the delay that taught it: a session with one turn of audio first.
 */
async function warmUp(page: Page, url: string): Promise<void> {
  await start(page, { peer: url, id: uniqueId('warm-up') });
  expect((await turn(page, { gaps: '20', audioAtMs: 100, toneMs: 500 }, 1500)).done).toBe(true);
  await close(page);
}

let peer: PeerProcess;
let ids = 0;
const uniqueId = (label: string) => `${label}-${process.pid}-${++ids}`;

test.beforeAll(async () => {
  await build({
    configFile: false,
    logLevel: 'error',
    build: {
      outDir: BUILD_DIR,
      emptyOutDir: true,
      target: 'es2022',
      minify: 'terser',
      terserOptions,
      lib: { entry: 'src/webrtc.ts', formats: ['es'], fileName: () => 'webrtc.js' },
    },
  });
  peer = await spawnPeer();
});

test.afterAll(() => {
  peer?.process.kill();
});

test.beforeEach(async ({ page }) => openPage(page));

test('turns over the data channel: TTFT and ITL as the app sees them', async ({ page }) => {
  await start(page, { peer: peer.url, id: uniqueId('text') });
  const gaps = [40, 15, 25, 10, 30, 20];
  let label = '';
  let met = false;
  for (let run = 1; run <= TEXT_RUNS && !met; run++) {
    const r = await turn(page, { gaps: gaps.join(',') });
    expect(r.done).toBe(true);
    const report = r.report!;
    expect(report).toMatchObject({ transport: 'webrtc', url: 'datachannel:oai-events', outcome: 'complete', chunks: gaps.length, tokens: gaps.length, tokensEstimated: false });
    const times = report.chunkTimes!;
    expect(times).toHaveLength(r.content.length);
    // Exact on every run: earshot never stamps t0 before the app's send, nor a chunk after the app sees it.
    expect(report.t0).toBeGreaterThanOrEqual(r.t0);
    times.forEach((t, i) => expect(t).toBeLessThanOrEqual(r.content[i]));
    const ttft = report.ttftMs! - (r.content[0] - r.t0);
    const itl = diffs(times).map((d, i) => d - diffs(r.content)[i]);
    const itlMedian = median(itl.map(Math.abs));
    label = `run ${run}: ttft ${ttft.toFixed(3)}, itl ${itl.map((d) => d.toFixed(3)).join(' ')} (median |diff| ${itlMedian.toFixed(3)}) ms; earshot's stamp to the app's ${times.map((t, i) => (r.content[i] - t).toFixed(3)).join(' ')} ms, the app's listener to its next ${r.next.map((t, i) => (t - r.content[i]).toFixed(3)).join(' ')} ms`;
    console.log(`webrtc text turn ${label}`);
    // A run the OS preempted between the two stamps is measured again.
    met = Math.abs(ttft) <= TTFT_MAX_MS && itl.every((d) => Math.abs(d) <= TRUTH_MAX_MS + 1e-6);
  }
  expect(met, label).toBe(true);
  const s = await state(page);
  expect(s.errors).toEqual([]);
  expect(s.internalErrors).toBe(0);
});

test('a channel the agent opens, through the patched constructor', async ({ page }) => {
  await start(page, { peer: peer.url, id: uniqueId('remote-channel'), channel: 'server-events', patch: true });
  const r = await turn(page, { gaps: '20,10x3' });
  expect(r.done).toBe(true);
  expect(r.report).toMatchObject({ url: 'datachannel:server-events', outcome: 'complete', chunks: 4 });
  const s = await state(page);
  expect(s.events[0]).toBe('datachannel server-events');
  expect(s.errors).toEqual([]);
});

/** Three turns whose tone starts later each time: earshot's heard time of each against Chromium's account. */
async function ttfaTurns(page: Page, label: string): Promise<number[]> {
  const id = uniqueId(label);
  await warmUp(page, peer.url);
  await start(page, { peer: peer.url, id });
  const rows: string[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < 3; i++) {
    const audioAtMs = 250 + 100 * i;
    const r = await turn(page, { gaps: '60,20x4', audioAtMs, toneMs: 600 }, 2500);
    expect(r.done).toBe(true);
    const report = r.report!;
    const onsetRtp = (await peer.log(id)).turns.at(-1)!.onsetRtp!;
    const played = playedOut(r.frames, onsetRtp);
    expect(played, `Chromium played the tone: onset RTP ${onsetRtp}, ${r.frames.length} frames seen, the last ${JSON.stringify(r.frames.at(-1))}`).toBeDefined();
    expect(report.ttfaMs, 'earshot heard the reply').toBeDefined();
    const truth = played! + r.playoutDelayMs!;
    const heard = report.t0 + report.ttfaMs!;
    offsets.push(heard - truth);
    rows.push(
      `${label} turn ${i}: ttfa ${report.ttfaMs!.toFixed(1)} ms; heard at ${heard.toFixed(1)}; Chromium played the onset at ${played!.toFixed(1)} + device path ${r.playoutDelayMs!.toFixed(1)} = ${truth.toFixed(1)}; earshot - Chromium ${offsets[i].toFixed(1)} ms`,
    );
    // The reply's audio cannot be heard before it was sent.
    expect(report.ttfaMs!).toBeGreaterThan(audioAtMs);
  }
  const log = await peer.log(id);
  console.log(`${rows.join('\n')}\nagent: ${log.packets} packets, late mean ${log.lateMeanMs.toFixed(1)} ms, max ${log.lateMaxMs.toFixed(1)} ms`);
  const s = await state(page);
  expect(s.errors).toEqual([]);
  // Each turn's audio is reported when the next starts.
  expect(s.turnAudio.map((t) => t.id)).toEqual(s.turns.slice(0, 2).map((t) => t.id));
  return offsets;
}

test('TTFA over the audio track: heard when Chromium played the first sound', async ({ page }) => {
  const offsets = await ttfaTurns(page, 'frames');
  expect(offsets.filter((d) => Math.abs(d) > TTFA_MS)).toEqual([]);
});

test('TTFA through Web Audio, where there is no MediaStreamTrackProcessor: never early', async ({ page }) => {
  await page.goto(`/e2e/pages/webrtc.html?coi=1&webaudio=1&webrtc=/${BUILD_DIR}/webrtc.js`);
  await page.waitForFunction(() => window.rtc?.ready === true);
  // Chromium hands Web Audio a remote track through a FIFO of up to 10 device buffers: later, never earlier.
  const offsets = await ttfaTurns(page, 'web-audio');
  expect(offsets.filter((d) => d < -TTFA_MS)).toEqual([]);
});

/** The agent's own lateness (machine stalls) in a steady phase must stay under this for the phase to be a baseline. */
const STEADY_LATE_MS = 60;

test('injected send jitter shows as jitter-buffer delay, in Chromium and in earshot', async ({ page }) => {
  await warmUp(page, peer.url);
  const turns = 3;
  let steadyLateMs = Infinity;
  let phases: Array<{ name: string; jitterMs: number; chromium: number; earshot: number; target: number }> = [];
  // A stalled agent is jitter too: a run whose steady phase the machine disturbed is run again.
  for (let run = 1; run <= MAX_RUNS && steadyLateMs > STEADY_LATE_MS; run++) {
    const id = uniqueId('jitter');
    await start(page, { peer: peer.url, id });
    phases = [
      { name: 'steady', jitterMs: 0, chromium: 0, earshot: 0, target: 0 },
      { name: 'jittered', jitterMs: 400, chromium: 0, earshot: 0, target: 0 },
    ];
    for (const phase of phases) {
      const before = await page.evaluate(() => window.rtc.rawStats());
      for (let i = 0; i < turns; i++) {
        expect((await turn(page, { gaps: '30,20x2', audioAtMs: 100, toneMs: 1500, jitterMs: phase.jitterMs }, 2000)).done).toBe(true);
      }
      // The last talkspurt plays out (jitter up to 400 ms adds as much delay) before the phase is read.
      await page.waitForTimeout(1500);
      const after = await page.evaluate(() => window.rtc.rawStats());
      phase.chromium = ((after.delay - before.delay) / (after.emitted - before.emitted)) * 1000;
    }
    // The last turn's audio is reported when the next turn starts.
    await send(page, { gaps: '10' });
    await page.waitForTimeout(500);
    const s = await state(page);
    expect(s.turnAudio).toHaveLength(2 * turns);
    expect(s.errors).toEqual([]);
    expect(s.internalErrors).toBe(0);
    phases.forEach((phase, p) => {
      const audio = s.turnAudio.slice(p * turns, (p + 1) * turns).map((t) => t.stats);
      const emitted = audio.reduce((a, x) => a + x.jitterBufferEmittedCount, 0);
      phase.earshot = (audio.reduce((a, x) => a + x.jitterBufferDelay, 0) / emitted) * 1000;
      phase.target = (audio.reduce((a, x) => a + x.jitterBufferTargetDelay, 0) / emitted) * 1000;
      console.log(`run ${run}, ${phase.name} (send jitter up to ${phase.jitterMs} ms): jitter-buffer delay per sample, earshot's turns ${phase.earshot.toFixed(1)} ms (target ${phase.target.toFixed(1)}), Chromium ${phase.chromium.toFixed(1)} ms; per turn ${audio.map((x) => x.delayMs!.toFixed(1)).join(' ')}`);
      // Between talkspurts nothing leaves the buffer: earshot's turn spans hold exactly the phase's audio.
      expect(phase.earshot).toBeCloseTo(phase.chromium, 0);
    });
    // Steady packets are due every 20 ms from the session's start: how late the machine let them leave.
    const log = await peer.log(id);
    const jitteredFrom = log.turns[turns].request / PACKET_MS;
    steadyLateMs = Math.max(...log.sent.filter(([k]) => k < jitteredFrom).map(([k, at]) => at - k * PACKET_MS));
    console.log(`run ${run}: the agent sent steady packets up to ${steadyLateMs.toFixed(1)} ms late`);
    await close(page);
  }
  expect(steadyLateMs, 'a steady phase the machine left steady').toBeLessThanOrEqual(STEADY_LATE_MS);
  // NetEq raises its target with the jitter it sees, and the audio waits longer for it.
  expect(phases[1].target).toBeGreaterThan(phases[0].target + 60);
  expect(phases[1].chromium).toBeGreaterThan(phases[0].chromium + 30);
});

test('the agent vanishes: dropped after the grace time, as of when it disconnected', async ({ page }) => {
  const own = await spawnPeer();
  try {
    await start(page, { peer: own.url, id: uniqueId('kill'), graceMs: 1000 });
    // A turn is under way when the agent goes.
    await send(page, { gaps: '50,5000' });
    await page.waitForTimeout(300);
    const killedAt = await now(page);
    own.process.kill('SIGKILL');
    const seen = await page.evaluate((ms) => window.rtc.connectionsReported(2, ms), 40_000);
    const s = await state(page);
    const [channel, pc] = s.connections;
    console.log(`killed at ${killedAt.toFixed(0)}; ${JSON.stringify(s.connections.map((c) => [c.url, c.outcome, c.reason, c.closedAt.toFixed(0)]))}; reported at ${seen.at.toFixed(0)}`);
    expect(seen.ok).toBe(true);
    expect(pc).toMatchObject({ transport: 'webrtc', url: `${own.url}/offer`, outcome: 'dropped' });
    expect(channel).toMatchObject({ url: 'datachannel:oai-events', outcome: 'dropped' });
    expect(pc.closedAt).toBeGreaterThan(killedAt);
    if (pc.reason === 'disconnected') expect(seen.at - pc.closedAt).toBeGreaterThanOrEqual(1000);
    // The turn awaited its audio: its report waits for it up to 3 s after the turn ended.
    await expect.poll(async () => (await state(page)).turns.map((t) => [t.outcome, t.t0 + t.e2eMs! <= pc.closedAt]), { timeout: 5000 }).toEqual([['dropped', true]]);
  } finally {
    own.process.kill();
  }
});

test('the app hangs up: abandoned, with the turn in progress', async ({ page }) => {
  await start(page, { peer: peer.url, id: uniqueId('close') });
  await send(page, { gaps: '50,5000' });
  await page.waitForTimeout(300);
  await close(page);
  const s = await state(page);
  expect(s.connections.map((c) => [c.url, c.outcome, c.reason])).toEqual([
    ['datachannel:oai-events', 'abandoned', 'closed by the app'],
    [`${peer.url}/offer`, 'abandoned', 'closed by the app'],
  ]);
  // An abandoned turn's report never waits for its audio.
  expect(s.turns.map((t) => [t.outcome, t.reason])).toEqual([['abandoned', 'closed by the app']]);
});
