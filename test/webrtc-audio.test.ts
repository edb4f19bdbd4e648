import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { adapters, createMonitor, type TurnReport } from '../src/index';
import { observePeerConnection } from '../src/webrtc';

/**
 * The frame path of TTFA over WebRTC, with the browser's pieces stood in for: decoded frames of the
 * remote track (MediaStreamTrackProcessor) stamped in a time base of their own, and the
 * media-playout stats that say how long the device path takes.
 */

const RATE = 48000;
const FRAME = 480;

interface FakeFrame {
  timestamp: number;
  sampleRate: number;
  numberOfFrames: number;
  closed: boolean;
  copyTo(dest: Float32Array): void;
  close(): void;
}

/** A 10 ms frame released at `releasedMs` (performance.now), stamped `base` ms off, loud from sample `onset` (or silent). */
function frame(releasedMs: number, base: number, onset = FRAME): FakeFrame {
  return {
    timestamp: (releasedMs + base) * 1000,
    sampleRate: RATE,
    numberOfFrames: FRAME,
    closed: false,
    copyTo(dest) {
      for (let i = 0; i < FRAME; i++) dest[i] = i >= onset ? 0.3 * Math.sin(i) + 0.3 : 0;
    },
    close() {
      this.closed = true;
    },
  };
}

/** Every processor made, with the controller that feeds its frames. */
const processors: Array<{ push(f: FakeFrame): void; cancelled: boolean }> = [];

class FakeProcessor {
  readonly readable: ReadableStream<FakeFrame>;
  constructor() {
    const entry = { push: (_f: FakeFrame) => {}, cancelled: false };
    this.readable = new ReadableStream<FakeFrame>({
      start(controller) {
        entry.push = (f) => controller.enqueue(f);
      },
      cancel() {
        entry.cancelled = true;
      },
    });
    processors.push(entry);
  }
}

class FakeChannel extends EventTarget {
  listening = false;
  readyState: RTCDataChannelState = 'open';
  constructor(readonly label: string) {
    super();
  }
  send(_data: string): void {}
  close(): void {}
  deliver(data: string): void {
    // The app listens (earshot reads a message in the app's own listener), from after earshot
    // wrapped the channel, as an app's listener would be.
    if (!this.listening) this.addEventListener('message', () => {});
    this.listening = true;
    this.dispatchEvent(new MessageEvent('message', { data }));
  }
}

class FakePeerConnection extends EventTarget {
  connectionState: RTCPeerConnectionState = 'connected';
  signalingState: RTCSignalingState = 'stable';
  readonly sctp = null;
  readonly track = { kind: 'audio', id: 'remote-audio' };
  /** The device path takes 30 ms per sample: media-playout's running totals. */
  playout = { totalPlayoutDelay: 0, totalSamplesCount: 0 };
  createDataChannel(label: string): FakeChannel {
    return new FakeChannel(label);
  }
  close(): void {}
  getReceivers() {
    return [{ track: this.track, transport: null }];
  }
  getSenders() {
    return [];
  }
  async getStats() {
    return new Map([['AP', { id: 'AP', type: 'media-playout', kind: 'audio', ...this.playout }]]);
  }
}

const realtime = (type: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type, ...extra });

let elements: Array<{ muted: boolean; srcObject: unknown }> = [];
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
  processors.length = 0;
  elements = [];
  vi.stubGlobal('MediaStreamTrackProcessor', FakeProcessor);
  vi.stubGlobal('MediaStream', class {});
  vi.stubGlobal(
    'Audio',
    class {
      muted = false;
      srcObject: unknown = null;
      constructor() {
        elements.push(this);
      }
      play() {
        return Promise.resolve();
      }
    },
  );
});
afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

function setup() {
  const turns: TurnReport[] = [];
  const monitor = createMonitor({ onTurn: (t) => turns.push(t) });
  const pc = new FakePeerConnection();
  observePeerConnection(monitor, pc as unknown as RTCPeerConnection, { adapter: adapters.openaiRealtime(), statsIntervalMs: 0 });
  const channel = (pc as unknown as RTCPeerConnection).createDataChannel('oai-events') as unknown as FakeChannel;
  return { pc, channel, turns };
}

/** Lets the reader loop take what was queued. */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('time to first audio over a WebRTC track', () => {
  it('is the first loud sample of the decoded frames, in their own time base, plus the device path', async () => {
    const { pc, channel, turns } = setup();
    // The track plays in a muted element, which is what makes Chromium run its audio.
    expect(elements).toEqual([expect.objectContaining({ muted: true })]);
    vi.advanceTimersByTime(1000);
    channel.send(realtime('response.create'));
    expect(processors).toHaveLength(1);
    const base = 5_000_000; // the frames' clock is not performance.now()'s
    let released = 1000;
    // Silence first; frames reach the page 3 ms, then 0.5 ms, after the buffer released them.
    for (const delivery of [3, 0.5, 0.5, 0.5]) {
      vi.advanceTimersByTime(released + delivery - performance.now());
      processors[0].push(frame(released, base));
      await settle();
      released += 10;
    }
    pc.playout = { totalPlayoutDelay: 0.03 * 96000, totalSamplesCount: 96000 };
    vi.advanceTimersByTime(released + 0.5 - performance.now());
    processors[0].push(frame(released, base, 240));
    await settle();
    // Heard: found, so the frames stop being read.
    expect(processors[0].cancelled).toBe(true);
    channel.deliver(realtime('response.output_text.delta', { delta: 'x' }));
    channel.deliver(realtime('response.done', { response: { status: 'completed' } }));
    await settle();
    expect(turns).toHaveLength(1);
    // Released at `released` (+ the 0.5 ms the fastest frame took to arrive), 240 samples in, + 30 ms.
    expect(turns[0].ttfaMs).toBeCloseTo(released + 0.5 + 5 + 30 - 1000, 9);
  });

  it('takes no sound from before the turn began, and waits for silence then sound', async () => {
    const { pc, channel, turns } = setup();
    pc.playout = { totalPlayoutDelay: 0, totalSamplesCount: 0 };
    vi.advanceTimersByTime(1000);
    channel.send(realtime('response.create'));
    // The previous reply is still playing when the turn starts: loud from the first frame read.
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(10);
      processors[0].push(frame(performance.now(), 0, 0));
      await settle();
    }
    // Then 30 ms of silence, and the reply.
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(10);
      processors[0].push(frame(performance.now(), 0));
      await settle();
    }
    vi.advanceTimersByTime(10);
    const at = performance.now();
    processors[0].push(frame(at, 0, 100));
    await settle();
    channel.deliver(realtime('response.done', { response: { status: 'completed' } }));
    await settle();
    expect(turns[0].ttfaMs).toBeCloseTo(at + 100 / 48 - 1000, 9);
  });

  it('closes every frame it reads', async () => {
    const { channel } = setup();
    channel.send(realtime('response.create'));
    const frames = [frame(0, 0), frame(10, 0), frame(20, 0, 10)];
    for (const f of frames) processors[0].push(f);
    await settle();
    expect(frames.map((f) => f.closed)).toEqual([true, true, true]);
  });
});
