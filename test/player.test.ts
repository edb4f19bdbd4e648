import { afterEach, describe, expect, it, vi } from 'vitest';
import { toHeardMs, toRenderMs, type ContextClock } from '../src/audio/clock';
import { Engine } from '../src/audio/engine';
import { JitterBuffer, type JitterBufferOptions } from '../src/audio/jitter-buffer';
import { createPlayer, type AudioTurn, type Chunk, type Player, type PlayerEventDetail } from '../src/audio/player';
import { CLOSE, END, ENDED, F32, FLUSH, I16, PLAYING, REPLY, STATS, U8, UNDERRUN, type Command, type Report } from '../src/audio/protocol';
import { ringBuffer, RingReader, RingWriter } from '../src/audio/ring';
import {
  firstDifference,
  INPUT_RATE,
  QUANTUM,
  quantumMs,
  reference as drive,
  schedule,
  SCHEDULE_LATE_CHUNKS,
  SCHEDULE_MS,
  SCHEDULE_UNDERRUNS,
  type Samples,
  type Step,
} from '../e2e/pages/player-schedule';

const reference = (steps: Step[], quanta: number) => drive(JitterBuffer, steps, quanta);

const RATE = 48000;
const Q = QUANTUM;
const at = quantumMs;
const OPTIONS: JitterBufferOptions = { inputSampleRate: INPUT_RATE, outputSampleRate: RATE };
const dc = (n: number): Float32Array => new Float32Array(n).fill(0.5);

const opOf = (s: Step): number =>
  s.op === 'end' ? END : s.op === 'flush' ? FLUSH : s.samples instanceof Float32Array ? F32 : s.samples instanceof Int16Array ? I16 : U8;
const bytesOf = (s: Samples): Uint8Array => new Uint8Array(s.buffer, s.byteOffset, s.byteLength);

/** The engine fed the same schedule up front, through messages or a ring; renders and collects reports. */
function engineRun(steps: Step[], quanta: number, via: 'messages' | 'ring') {
  const reports: Report[] = [];
  const buffer = ringBuffer(1 << 20, ArrayBuffer);
  const engine = new Engine(OPTIONS, (...r) => reports.push(r), via === 'ring' ? new RingReader(buffer) : undefined);
  const writer = new RingWriter(buffer);
  for (const s of steps) {
    const c: Command = [opOf(s), s.at, s.seq ?? NaN, s.mediaMs ?? NaN, s.samples];
    if (via === 'ring') expect(writer._write(c[0], c[1], c[2], c[3], s.samples && bytesOf(s.samples))).toBe(true);
    else engine._receive([c]);
  }
  const out = new Float32Array(quanta * Q);
  const block = new Float32Array(Q);
  for (let q = 0; q < quanta; q++) {
    engine._render(block, at(q));
    out.set(block, q * Q);
  }
  engine._receive([[STATS, NaN, NaN, NaN]]);
  return { out, reports };
}

describe('Engine: the processor without Web Audio', () => {
  const QUANTA = Math.ceil((SCHEDULE_MS * RATE) / 1000 / Q);
  const steps = schedule();
  const ref = reference(steps, QUANTA);

  for (const via of ['messages', 'ring'] as const) {
    it(`plays sample-exactly what the pure class plays on the same schedule (${via})`, () => {
      const { out, reports } = engineRun(steps, QUANTA, via);
      expect(firstDifference(out, ref.out)).toBe(-1);
      // The schedule exercises what it claims: audio in both turns, underruns, chunks too late to play.
      expect(ref.heard).toHaveLength(2);
      expect(ref.stats).toMatchObject({ concealmentEvents: SCHEDULE_UNDERRUNS, packetsDiscarded: SCHEDULE_LATE_CHUNKS });
      // Reports: first audible sample of each turn, each underrun, each turn's end with its stats.
      const kinds = reports.map((r) => r[0]);
      expect(kinds).toEqual([PLAYING, ...Array<number>(SCHEDULE_UNDERRUNS).fill(UNDERRUN), ENDED, PLAYING, ENDED, REPLY]);
      expect(reports.filter((r) => r[0] === PLAYING).map((r) => [r[1], r[2]])).toEqual([
        [ref.heard[0], 1],
        [ref.heard[1], 2],
      ]);
      expect(reports.at(-2)![3]).toEqual(ref.stats);
      expect(reports.at(-1)).toEqual([REPLY, NaN, 2, ref.stats]);
    });
  }

  const immediate = (report: (...r: Report) => void) =>
    new Engine({ ...OPTIONS, inputSampleRate: RATE, maxDelayMs: 0, mode: 'generated' }, report);

  it('reports an underrun at its first concealed frame and the end at the last played one', () => {
    const reports: Report[] = [];
    const engine = immediate((...r) => reports.push(r));
    const block = new Float32Array(Q);
    engine._receive([[F32, 0, NaN, NaN, dc(300)]]);
    for (let q = 0; q < 4; q++) engine._render(block, at(q)); // 300 frames: dry 44 frames into quantum 2
    engine._receive([[F32, at(4), NaN, NaN, dc(100)]]);
    engine._receive([[END, at(4), NaN, NaN]]);
    for (let q = 4; q < 6; q++) engine._render(block, at(q));
    expect(reports.map((r) => [r[0], r[2]])).toEqual([
      [PLAYING, 1],
      [UNDERRUN, 1],
      [ENDED, 1],
    ]);
    expect(reports[0][1]).toBe(0);
    expect(reports[1][1]).toBeCloseTo((300 * 1000) / RATE, 9);
    expect(reports[2][1]).toBeCloseTo(at(4) + (100 * 1000) / RATE, 9);
  });

  it('holds a command until the render clock reaches its time, and keeps the order', () => {
    const reports: Report[] = [];
    const engine = immediate((...r) => reports.push(r));
    const block = new Float32Array(Q);
    engine._receive([[F32, at(3) + 0.001, NaN, NaN, dc(Q)]]);
    engine._receive([[END, 0, NaN, NaN]]); // due at once, but behind the chunk
    for (let q = 0; q < 4; q++) engine._render(block, at(q));
    expect(reports).toEqual([]);
    for (let q = 4; q < 6; q++) engine._render(block, at(q));
    expect(reports.map((r) => r.slice(0, 2))).toEqual([
      [PLAYING, at(4)],
      [ENDED, at(5)],
    ]);
  });

  it('answers a stats request at once, and stops on close', () => {
    const reports: Report[] = [];
    const engine = immediate((...r) => reports.push(r));
    engine._receive([[F32, 0, NaN, NaN, dc(300)]]);
    engine._render(new Float32Array(Q), 0);
    engine._receive([[STATS, NaN, NaN, NaN]]);
    expect(reports.slice(1)).toEqual([[REPLY, NaN, 1, expect.objectContaining({ bufferedMs: (172 * 1000) / RATE, jitterBufferEmittedCount: Q })]]);
    expect(engine._alive).toBe(true);
    engine._receive([[CLOSE, NaN, NaN, NaN]]);
    expect(engine._alive).toBe(false);
  });
});

describe('Clock mapping', () => {
  const live = (o: Partial<ContextClock> & { ts?: AudioTimestamp }): ContextClock => ({
    currentTime: 10,
    baseLatency: 0.01,
    outputLatency: 0.032,
    getOutputTimestamp: () => o.ts ?? { contextTime: 9.95, performanceTime: 5000 },
    ...o,
  });

  it('an offline context runs on context time: at is context ms, default the render position', () => {
    const offline: ContextClock = { currentTime: 1.5 };
    expect(toRenderMs(offline, 250, 99999)).toBe(250);
    expect(toRenderMs(offline, undefined, 99999)).toBe(1500);
    expect(toHeardMs(offline, 1234.5)).toBe(1234.5);
  });

  it('maps an arrival to the quantum being rendered: heard position plus output latency', () => {
    // Heard at 5000 ms: context 9950 ms; rendering runs 32 ms ahead of the device.
    const ctx = live({});
    expect(toRenderMs(ctx, 5010, 5012)).toBeCloseTo(9950 + 10 + 32, 9);
    expect(toRenderMs(ctx, undefined, 5012)).toBeCloseTo(9950 + 12 + 32, 9);
  });

  it('maps render-clock ms to the performance.now() at which they are heard', () => {
    const ctx = live({});
    expect(toHeardMs(ctx, 9960)).toBeCloseTo(5010, 9);
    // Round trip: an arrival is heard output latency after it was rendered.
    expect(toHeardMs(ctx, toRenderMs(ctx, 5010, 5010))).toBeCloseTo(5010 + 32, 9);
  });

  it('maps to the heard time before the output has started, when the timestamp has no performanceTime', () => {
    // Seen in Chromium under load: a context time paired with a performanceTime of 0. The render
    // position (10 s) is heard one output latency (32 ms) from now.
    vi.spyOn(performance, 'now').mockReturnValue(7000);
    try {
      expect(toHeardMs(live({ ts: { contextTime: 0.6, performanceTime: 0 } }), 10000)).toBeCloseTo(7032, 9);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('falls back to currentTime before the first timestamp and while the timestamp is stale', () => {
    // Not started: the timestamp is all zeros, and the render position (0) stands in, heard one
    // output latency from now. The page's clock is pinned to the caller's `now`: unpinned, the
    // result moved with how long the test process had run (under load, -341 ms).
    const notStarted = live({ currentTime: 0, ts: { contextTime: 0, performanceTime: 0 } });
    vi.spyOn(performance, 'now').mockReturnValue(800);
    try {
      expect(toRenderMs(notStarted, 800, 800)).toBeCloseTo(0, 9);
      // Where the stand-in would place it later than the render position allows, currentTime bounds it.
      vi.spyOn(performance, 'now').mockReturnValue(0);
      expect(toRenderMs(notStarted, 800, 800)).toBe(10);
    } finally {
      vi.restoreAllMocks();
    }
    // Suspended at 10 s for a minute: the old pair would place the arrival a minute ahead of the render.
    expect(toRenderMs(live({}), 65000, 65000)).toBeCloseTo(10000 + 10, 9);
  });
});

// ---------------------------------------------------------------------------------------------
// The player on the main thread, against an AudioWorkletNode whose processor is the engine.

class FakeNode {
  static last: FakeNode;
  readonly port: MessagePort;
  readonly engine: Engine;
  readonly options: AudioWorkletNodeOptions;
  connected: unknown[] = [];
  private readonly _other: MessagePort;

  constructor(ctx: { sampleRate: number }, name: string, options: AudioWorkletNodeOptions) {
    expect(name).toBe('earshot-player');
    const { port1, port2 } = new MessageChannel();
    const o = options.processorOptions;
    this.options = options;
    this.port = port1;
    this._other = port2;
    this.engine = new Engine({ ...o, outputSampleRate: ctx.sampleRate }, (...r) => port2.postMessage(r), o.ring && new RingReader(o.ring));
    port2.onmessage = (e) => this.engine._receive(e.data);
    FakeNode.last = this;
  }

  connect(to: unknown): void {
    this.connected.push(to);
  }

  disconnect(): void {
    this.port.close();
    this._other.close();
  }

  /** Renders quanta [from, to) of the engine. */
  render(from: number, to: number, channels = 1): Float32Array {
    const out = new Float32Array((to - from) * Q * channels);
    const block = new Float32Array(Q * channels);
    for (let q = from; q < to; q++) {
      this.engine._render(block, at(q));
      out.set(block, (q - from) * Q * channels);
    }
    return out;
  }
}

const offlineContext = () => ({ sampleRate: RATE, currentTime: 0, destination: 'destination', audioWorklet: { addModule: vi.fn(async () => {}) } });

async function makePlayer(options: Parameters<typeof createPlayer>[1] = {}, ctx: object = offlineContext()) {
  const player = await createPlayer(ctx as unknown as BaseAudioContext, { sampleRate: 24000, ...options });
  const events: Array<[string, PlayerEventDetail]> = [];
  for (const type of ['playing', 'underrun', 'stats'] as const) player.addEventListener(type, (e) => events.push([type, e.detail]));
  return { player, node: FakeNode.last, events };
}

describe('Player (main thread) against the engine', () => {
  const players: Player[] = [];
  afterEach(() => {
    for (const p of players.splice(0)) p.close();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  for (const shared of [false, true]) {
    it(`sends the schedule so that it plays sample-exactly (${shared ? 'shared ring' : 'transferred messages'})`, async () => {
      vi.stubGlobal('AudioWorkletNode', FakeNode);
      vi.stubGlobal('crossOriginIsolated', shared);
      const { player, node, events } = await makePlayer();
      players.push(player);
      expect(player.shared).toBe(shared);
      const steps = schedule();
      for (const s of steps) {
        if (s.op === 'end') player.end(s.at);
        else if (s.op === 'flush') player.flush(s.at);
        // An ArrayBuffer is PCM16 bytes, as a Uint8Array is: send the odd-split bytes as one of each.
        else player.push(s.samples instanceof Uint8Array && s.at === 1300 ? s.samples.slice().buffer : s.samples!, { at: s.at, seq: s.seq, mediaMs: s.mediaMs });
      }
      await player.stats(); // every command has reached the processor
      const quanta = Math.ceil((SCHEDULE_MS * RATE) / 1000 / Q);
      const out = node.render(0, quanta);
      const ref = reference(steps, quanta);
      expect(firstDifference(out, ref.out)).toBe(-1);
      expect(await player.stats()).toEqual(ref.stats);
      // Offline: event times are context ms; playing is each turn's first audible sample.
      expect(events.map(([type, d]) => [type, d.turn])).toEqual([
        ['playing', 1],
        ...Array.from({ length: SCHEDULE_UNDERRUNS }, () => ['underrun', 1]),
        ['stats', 1],
        ['playing', 2],
        ['stats', 2],
      ]);
      const playing = events.filter(([type]) => type === 'playing').map(([, d]) => d);
      expect(playing.map((d) => [d.time, d.contextTime])).toEqual(ref.heard.map((ms) => [ms, ms / 1000]));
      expect(events.at(-1)![1].stats).toEqual(ref.stats);
      expect(node.options.processorOptions).toMatchObject({ inputSampleRate: 24000, channels: 1 });
      expect(node.connected).toEqual(['destination']);
    });
  }

  it('copies what it transfers, and ignores what it cannot play', async () => {
    vi.stubGlobal('AudioWorkletNode', FakeNode);
    const { player, node } = await makePlayer({ sampleRate: RATE, maxDelayMs: 0, mode: 'generated' });
    players.push(player);
    const chunk = new Float32Array(Q).fill(0.25);
    player.push(chunk, { at: 0 });
    expect(chunk[0]).toBe(0.25); // still the app's: a copy was transferred
    for (const bad of [new Float32Array(0), new ArrayBuffer(0), new Float64Array(4), new DataView(new ArrayBuffer(4)), null, 'x']) {
      player.push(bad as unknown as Chunk);
    }
    player.end(0);
    player.end(0); // no turn open: nothing sent
    await player.stats();
    node.render(0, 3);
    expect(await player.stats()).toMatchObject({ jitterBufferEmittedCount: Q, packetsDiscarded: 0 });
  });

  it('posts the commands of one task in one message, in order', async () => {
    vi.stubGlobal('AudioWorkletNode', FakeNode);
    const { player, node } = await makePlayer({ sampleRate: RATE, maxDelayMs: 0, mode: 'generated' });
    players.push(player);
    const post = vi.spyOn(node.port, 'postMessage');
    for (let i = 0; i < 1000; i++) player.push(new Float32Array(12).fill(0.5), { at: 0 });
    player.end(0);
    const stats = player.stats();
    expect(post).not.toHaveBeenCalled(); // until the task ends
    await Promise.resolve();
    expect(post).toHaveBeenCalledTimes(1);
    const [batch, transfer] = post.mock.calls[0]! as [unknown[], ArrayBuffer[]];
    expect(batch).toHaveLength(1002);
    expect(transfer).toHaveLength(1000);
    await stats;
    node.render(0, 100);
    expect(await player.stats()).toMatchObject({ jitterBufferEmittedCount: 12_000 });
  });

  it('rejects options it cannot play with, naming each', async () => {
    vi.stubGlobal('AudioWorkletNode', FakeNode);
    const cases: Array<[object, RegExp]> = [
      [{ bogus: 1 }, /unknown option "bogus"/],
      [{ sampleRate: Number.NaN }, /sampleRate/],
      [{ sampleRate: 0 }, /sampleRate/],
      [{ channels: 0 }, /channels/],
      [{ channels: 33 }, /channels/],
      [{ minDelayMs: -1 }, /minDelayMs/],
      [{ maxDelayMs: '100' }, /maxDelayMs/],
      [{ maxBufferMs: Infinity }, /maxBufferMs/],
    ];
    for (const [options, name] of cases) await expect(createPlayer(offlineContext() as unknown as BaseAudioContext, options)).rejects.toThrow(name);
    const missing = { ...offlineContext(), audioWorklet: { addModule: async () => Promise.reject(new DOMException('404', 'AbortError')) } };
    const error = await createPlayer(missing as unknown as BaseAudioContext, { workletUrl: '/nowhere.js' }).catch((e: unknown) => e);
    expect(String(error)).toMatch(/workletUrl \/nowhere\.js/);
    expect((error as Error).cause).toBeInstanceOf(DOMException);
  });

  it('counts chunks the shared ring had no room for', async () => {
    vi.stubGlobal('AudioWorkletNode', FakeNode);
    vi.stubGlobal('crossOriginIsolated', true);
    // Nothing renders: 4 MiB of ring take 1083 records of 3840 + 32 bytes, and nothing more.
    const { player } = await makePlayer();
    players.push(player);
    for (let i = 0; i < 1100; i++) player.push(new Float32Array(960), { at: 0 });
    expect(player.dropped).toBe(1100 - Math.floor((1 << 22) / 3872));
  });

  it('credits each turn its own first audible sample: attach, and the monitor option', async () => {
    vi.stubGlobal('AudioWorkletNode', FakeNode);
    const active: AudioTurn[] = [];
    const heard: Array<[string, number]> = [];
    const turn = (name: string): AudioTurn => ({ audioHeard: (t) => heard.push([name, t]) });
    const { player, node, events } = await makePlayer({
      sampleRate: RATE,
      maxDelayMs: 0,
      mode: 'generated',
      monitor: { activeTurn: () => active.at(-1) },
    });
    players.push(player);
    let q = 0;
    /** Delivers what was sent, renders k quanta, and delivers the reports. */
    const play = async (k: number) => {
      await player.stats();
      node.render(q, (q += k));
      await player.stats();
    };
    // Turn 1: attached before its audio.
    player.attach(turn('a'));
    player.push(dc(Q), { at: at(q) });
    await play(4);
    // Attached once the current turn was heard: the next turn's. The monitor's turn does not replace it.
    player.attach(turn('b'));
    active.push(turn('monitor-1'));
    player.end(at(q));
    player.push(dc(Q), { at: at(q) });
    await play(4);
    // Turn 3: nothing attached, so the monitor's turn that delivered the audio.
    active.push(turn('monitor-2'));
    player.end(at(q));
    player.push(dc(Q), { at: at(q) });
    await play(4);
    // Turn 4, attached while open but not yet heard (digital silence first): the current turn's.
    player.end(at(q));
    player.push(new Float32Array(Q), { at: at(q) });
    player.attach(turn('c'));
    player.push(dc(Q), { at: at(q) });
    await play(6);
    const playing = events.filter(([type]) => type === 'playing').map(([, d]) => [d.turn, d.time]);
    expect(playing.map(([n]) => n)).toEqual([1, 2, 3, 4]);
    expect(heard).toEqual([
      ['a', playing[0][1]],
      ['b', playing[1][1]],
      ['monitor-2', playing[2][1]],
      ['c', playing[3][1]],
    ]);
    // Turn 4 starts once turn 3's end is played out (quantum 12), and is heard after its silence.
    expect(playing[3][1]).toBeCloseTo(at(14), 9);
  });

  it('maps event times with the output timestamp of a live context', async () => {
    vi.stubGlobal('AudioWorkletNode', FakeNode);
    const ctx = {
      ...offlineContext(),
      currentTime: 0.1,
      baseLatency: 0.01,
      outputLatency: 0.02,
      getOutputTimestamp: () => ({ contextTime: 0.08, performanceTime: 1000 }),
    };
    vi.spyOn(performance, 'now').mockReturnValue(1000);
    const { player, node, events } = await makePlayer({ sampleRate: RATE, maxDelayMs: 0, mode: 'generated' }, ctx);
    players.push(player);
    player.push(dc(Q)); // now: heard context 80 ms + 20 ms output latency = render 100 ms
    await player.stats();
    node.render(Math.round((100 * RATE) / 1000 / Q) - 1, Math.round((100 * RATE) / 1000 / Q) + 2);
    await player.stats();
    const playing = events.find(([type]) => type === 'playing')![1];
    expect(playing.contextTime).toBeCloseTo(at(38) / 1000, 12); // the first quantum at or after 100 ms
    expect(playing.time).toBeCloseTo(1000 + at(38) - 80, 9);
  });
});
