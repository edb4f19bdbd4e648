/**
 * Player test page: the built `earshot/jitter-buffer` entry and its worklet in real Web Audio. Served
 * transpiled by e2e/server.ts as player.html (cross-origin isolated with ?coi=1: the shared-ring
 * path) and player-csp.html (script-src 'self'); specs call `window.playerPage`.
 */
import type { TurnReport } from '../../src/core/types';
import type * as Earshot from '../../src/index';
import type * as JitterBufferEntry from '../../src/jitter-buffer';
import type { PlayerEventDetail } from '../../src/jitter-buffer';
import { firstDifference, QUANTUM, RATE, reference, schedule, SCHEDULE_MS } from './player-schedule.ts';

/** A rebuild empties dist/ for a moment, so a failed load is retried for a few seconds. */
async function load<T>(file: string): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await import(`/dist/${file}?attempt=${attempt}`)) as T;
    } catch (error) {
      if (attempt === 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
const earshot = await load<typeof JitterBufferEntry>('jitter-buffer.js');
const core = await load<typeof Earshot>('earshot.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Events = Array<{ type: string } & PlayerEventDetail>;
const EVENT_TYPES = ['playing', 'underrun', 'stats'] as const;
function record(target: EventTarget, events: Events): void {
  for (const type of EVENT_TYPES) target.addEventListener(type, (e) => events.push({ type, ...(e as CustomEvent<PlayerEventDetail>).detail }));
}
/** Resolves once `done(events)` holds, or after `ms`. */
async function until(events: Events, done: (events: Events) => boolean, ms = 5000): Promise<void> {
  for (const end = performance.now() + ms; !done(events) && performance.now() < end; ) await sleep(10);
}

export interface OfflineResult {
  shared: boolean;
  samples: number;
  /** First sample that differs from the pure class on the same schedule, -1 when none. */
  firstDifference: number;
  nonSilent: number;
  events: Events;
  /** The pure class's first audible sample of each turn, and its final counters. */
  heard: number[];
  stats: unknown;
}

/** The schedule through the worklet in an OfflineAudioContext, arrivals stamped on its render clock. */
async function offline(): Promise<OfflineResult> {
  const quanta = Math.ceil((SCHEDULE_MS * RATE) / 1000 / QUANTUM);
  const ctx = new OfflineAudioContext({ numberOfChannels: 1, length: quanta * QUANTUM, sampleRate: RATE });
  const player = await earshot.createPlayer(ctx, { sampleRate: 24000 });
  const events: Events = [];
  record(player, events);
  const steps = schedule();
  for (const s of steps) {
    if (s.op === 'end') player.end(s.at);
    else if (s.op === 'flush') player.flush(s.at);
    else player.push(s.samples!, { at: s.at, seq: s.seq, mediaMs: s.mediaMs });
  }
  await player.stats(); // a round trip: every command has reached the processor
  const out = (await ctx.startRendering()).getChannelData(0);
  await until(events, (e) => e.filter((x) => x.type === 'stats').length === 2);
  const ref = reference(earshot.JitterBuffer, steps, quanta);
  return {
    shared: player.shared,
    samples: out.length,
    firstDifference: firstDifference(out, ref.out),
    nonSilent: out.filter((v) => v !== 0).length,
    events,
    heard: ref.heard,
    stats: ref.stats,
  };
}

export interface LiveResult {
  shared: boolean;
  state: AudioContextState;
  outputLatency: number;
  baseLatency: number;
  pushedAt: number;
  /** The render position then (the next frame to render), context seconds. */
  renderAtPush: number;
  playing: PlayerEventDetail;
  /** The heard time of `playing.contextTime` by output timestamps read after the event, over ~100 ms. */
  implied: number[];
  /** The monitor's report of the manual turn the player was attached to. */
  turn: TurnReport | undefined;
}

/**
 * A chunk through the worklet in a running AudioContext, the buffer set to play at once, for a
 * monitor's manual turn started just before and attached to the player.
 */
async function live(): Promise<LiveResult> {
  const ctx = new AudioContext({ sampleRate: RATE, latencyHint: 'interactive' });
  await ctx.resume();
  const player = await earshot.createPlayer(ctx, { sampleRate: RATE, maxDelayMs: 0, mode: 'generated' });
  const reports: TurnReport[] = [];
  const monitor = core.createMonitor({ onTurn: (t) => reports.push(t) });
  // Running, with output timestamps, past the start-up transient of the output.
  while (!ctx.getOutputTimestamp().performanceTime || ctx.currentTime < 0.5) await sleep(10);
  const playing = new Promise<PlayerEventDetail>((resolve) => player.addEventListener('playing', (e) => resolve(e.detail), { once: true }));
  const turn = monitor.turn().start();
  player.attach(turn);
  const pushedAt = performance.now();
  const renderAtPush = ctx.currentTime;
  player.push(new Float32Array(RATE / 5).fill(0.25));
  const detail = await playing;
  turn.end();
  const implied: number[] = [];
  for (let i = 0; i < 20; i++) {
    const ts = ctx.getOutputTimestamp();
    implied.push(ts.performanceTime! + (detail.contextTime - ts.contextTime!) * 1000);
    await sleep(5);
  }
  const result = {
    shared: player.shared,
    state: ctx.state,
    outputLatency: ctx.outputLatency,
    baseLatency: ctx.baseLatency,
    pushedAt,
    renderAtPush,
    playing: detail,
    implied,
    turn: reports[0],
  };
  player.close();
  await ctx.close();
  return result;
}

export interface ElementResult {
  events: Events;
  nonSilent: number;
  stats: unknown;
}

/** `<earshot-player>` with the given attributes, on an OfflineAudioContext: 200 ms pushed at 0, end at 150 ms. */
async function element(attributes: Record<string, string>): Promise<ElementResult> {
  earshot.definePlayerElement();
  const el = document.createElement('earshot-player') as JitterBufferEntry.PlayerElement;
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, v);
  document.body.append(el);
  const ctx = new OfflineAudioContext({ numberOfChannels: 1, length: RATE / 2, sampleRate: RATE });
  el.context = ctx;
  const events: Events = [];
  record(el, events);
  const chunk = new Float32Array(RATE / 5).fill(0.25);
  el.push(chunk, { at: 0 });
  chunk.fill(0); // the element holds a copy until its player starts
  el.end(150);
  await el.stats();
  const out = (await ctx.startRendering()).getChannelData(0);
  await until(events, (e) => e.some((x) => x.type === 'stats'));
  el.remove();
  return { events, nonSilent: out.filter((v) => v !== 0).length, stats: events.find((x) => x.type === 'stats')?.stats };
}

/** CSP control: the worklet as a blob: URL (how libraries often ship one). Resolves to the error's name. */
async function blobWorklet(): Promise<string> {
  const source = await (await fetch('/dist/jitter-buffer-worklet.js')).text();
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  try {
    await earshot.createPlayer(new OfflineAudioContext({ numberOfChannels: 1, length: QUANTUM, sampleRate: RATE }), { workletUrl: url });
    return 'loaded';
  } catch (error) {
    // earshot's error names the option; the browser's is its cause.
    const { name, message, cause } = error as Error & { cause?: Error };
    return message.includes('workletUrl') ? `${name} (${cause?.name})` : name;
  }
}

const page = { ready: true, crossOriginIsolated, offline, live, element, blobWorklet };
export type PlayerPage = typeof page;
declare global {
  interface Window {
    playerPage: PlayerPage;
  }
}
window.playerPage = page;
