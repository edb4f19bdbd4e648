import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { adapters, createMonitor, type ConnectionReport, type Monitor, type TurnReport } from '../src/index';
import { observePeerConnection, patchPeerConnection, type AudioStats, type PeerOptions } from '../src/webrtc';

/** A data channel as the browser's: send throws unless open, messages and close are events. */
class FakeChannel extends EventTarget {
  listening = false;
  readyState: RTCDataChannelState = 'open';
  readonly wire: unknown[] = [];
  constructor(readonly label: string) {
    super();
  }
  send(data: unknown): void {
    if (this.readyState !== 'open') throw new DOMException('not open', 'InvalidStateError');
    this.wire.push(data);
  }
  close(): void {
    this.readyState = 'closed';
  }
  /** A message arrives from the remote peer. */
  deliver(data: unknown): void {
    // The app listens (earshot reads a message in the app's own listener), from after earshot
    // wrapped the channel, as an app's listener would be.
    if (!this.listening) this.addEventListener('message', () => {});
    this.listening = true;
    this.dispatchEvent(new MessageEvent('message', { data }));
  }
  /** The channel ends (after close(), or from the remote side). */
  closed(): void {
    this.readyState = 'closed';
    this.dispatchEvent(new Event('close'));
  }
}

/** What earshot reads and wraps of an RTCPeerConnection, driven by hand. */
class FakePeerConnection extends EventTarget {
  connectionState: RTCPeerConnectionState = 'new';
  iceConnectionState: RTCIceConnectionState = 'new';
  signalingState: RTCSignalingState = 'stable';
  /** The stats getStats() resolves with next. */
  stats = new Map<string, Record<string, unknown>>();
  getStatsCalls = 0;
  createDataChannel(label: string): FakeChannel {
    return new FakeChannel(label);
  }
  /** As Chromium 150's: the DTLS transport goes `closed`, its event fired inside the call. */
  close(): void {
    this.signalingState = 'closed';
    this.connectionState = 'closed';
    this.dtlsClosed();
  }
  /** The DTLS transport of the peer connection's media and data, as negotiated. */
  readonly dtls = Object.assign(new EventTarget(), { state: 'connected' as RTCDtlsTransportState });
  sctp: { transport: EventTarget & { state: RTCDtlsTransportState } } | null = null;
  getReceivers(): Array<{ transport: unknown; track: { kind: string } }> {
    return [];
  }
  getSenders(): Array<{ transport: unknown }> {
    return [{ transport: this.dtls }];
  }
  /** The remote peer sends close_notify. */
  dtlsClosed(): void {
    this.dtls.state = 'closed';
    this.dtls.dispatchEvent(new Event('statechange'));
  }
  async getStats(): Promise<Map<string, Record<string, unknown>>> {
    this.getStatsCalls++;
    return this.stats;
  }
  state(state: RTCPeerConnectionState): void {
    this.connectionState = state;
    this.dispatchEvent(new Event('connectionstatechange'));
  }
  remoteChannel(label: string): FakeChannel {
    const channel = new FakeChannel(label);
    this.dispatchEvent(Object.assign(new Event('datachannel'), { channel }));
    return channel;
  }
  inbound(emitted: number, delay: number): void {
    this.stats.set('in', { id: 'in', type: 'inbound-rtp', kind: 'audio', jitterBufferEmittedCount: emitted, jitterBufferDelay: delay });
  }
}

const asPc = (pc: FakePeerConnection) => pc as unknown as RTCPeerConnection;
const realtime = (type: string, extra: Record<string, unknown> = {}) => JSON.stringify({ type, ...extra });

function setup(options: PeerOptions = {}) {
  const turns: TurnReport[] = [];
  const connections: ConnectionReport[] = [];
  const errors: unknown[] = [];
  const monitor = createMonitor({ onTurn: (t) => turns.push(t), onConnection: (c) => connections.push(c), chunkTimes: 10 });
  const pc = new FakePeerConnection();
  const observation = observePeerConnection(monitor, asPc(pc), {
    adapter: adapters.openaiRealtime(),
    audio: false,
    statsIntervalMs: 0,
    onError: (e) => errors.push(e),
    ...options,
  });
  return { monitor, pc, observation, turns, connections, errors };
}

let clock = 0;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
  clock = 0;
});
afterEach(() => {
  vi.useRealTimers();
});
const at = (ms: number) => vi.advanceTimersByTime(ms - clock) && (clock = ms);

describe('data channels', () => {
  it('turns OpenAI Realtime events on a channel the app creates into turns, timed as they happen', () => {
    const { pc, turns, connections } = setup();
    const channel = asPc(pc).createDataChannel('oai-events') as unknown as FakeChannel;
    at(100);
    channel.send(realtime('response.create'));
    at(130);
    channel.deliver(realtime('response.created'));
    for (const ms of [150, 175, 195]) {
      at(ms);
      channel.deliver(realtime('response.output_text.delta', { delta: 'hi' }));
    }
    at(200);
    channel.deliver(realtime('response.done', { response: { status: 'completed', usage: { output_tokens: 3 } } }));
    expect(turns).toHaveLength(1);
    const t = turns[0];
    expect(t.transport).toBe('webrtc');
    expect(t.url).toBe('datachannel:oai-events');
    expect(t.t0).toBe(100);
    expect(t.ttfbMs).toBe(30);
    expect(t.ttftMs).toBe(50);
    expect(t.chunkTimes).toEqual([150, 175, 195]);
    expect(t.itl.max).toBe(25);
    expect(t.tokens).toBe(3);
    expect(t.outcome).toBe('complete');
    // The app's message went out unchanged.
    expect(channel.wire).toEqual([realtime('response.create')]);
    expect(connections).toEqual([]);
  });

  it("records a message after the app's listener, as the app's own calls in it would have seen it", () => {
    const { pc, turns, monitor } = setup();
    const channel = asPc(pc).createDataChannel('oai-events') as unknown as FakeChannel;
    const seen: (string | undefined)[] = [];
    channel.addEventListener('message', (e) => {
      const type = (JSON.parse((e as MessageEvent).data as string) as { type: string }).type;
      // The next request, sent from the handler itself, then the turn that delivered the message.
      if (type === 'response.done' && seen.length === 1) channel.send(realtime('response.create'));
      seen.push(monitor.activeTurn()?.id);
    });
    at(100);
    channel.send(realtime('response.create'));
    at(120);
    channel.deliver(realtime('response.output_text.delta', { delta: 'hi' }));
    at(140);
    channel.deliver(realtime('response.done', { response: { status: 'completed' } }));
    expect(seen).toEqual(['t1', undefined]);
    expect(turns.map((t) => [t.id, t.outcome, t.ttftMs, t.e2eMs])).toEqual([['t1', 'complete', 20, 40]]);
    at(150);
    channel.deliver(realtime('response.output_text.delta', { delta: 'again' }));
    expect(seen).toEqual(['t1', undefined, 't2']);
  });

  it('observes channels the remote peer opens, and a turn the server starts (server VAD)', () => {
    const { pc, turns } = setup();
    const channel = pc.remoteChannel('events');
    at(50);
    channel.deliver(realtime('input_audio_buffer.speech_stopped'));
    at(80);
    channel.deliver(realtime('response.output_audio_transcript.delta', { delta: 'x' }));
    at(90);
    channel.deliver(realtime('response.done', { response: { status: 'completed' } }));
    expect(turns.map((t) => [t.t0, t.ttftMs, t.outcome])).toEqual([[50, 30, 'complete']]);
  });

  it('adds the turn traceparent to a JSON request as `messageField`, and leaves other messages alone', () => {
    const traceparent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    const monitor = createMonitor({ sink: { start: () => traceparent } });
    const pc = new FakePeerConnection();
    observePeerConnection(monitor, asPc(pc), { adapter: adapters.openaiRealtime(), audio: false, statsIntervalMs: 0, messageField: 'traceparent' });
    const channel = asPc(pc).createDataChannel('oai-events') as unknown as FakeChannel;
    channel.send(realtime('response.create', { response: { modalities: ['text'] } }));
    channel.send(realtime('input_audio_buffer.append', { audio: 'AAAA' }));
    expect(channel.wire).toEqual([
      JSON.stringify({ type: 'response.create', response: { modalities: ['text'] }, traceparent }),
      realtime('input_audio_buffer.append', { audio: 'AAAA' }),
    ]);
  });

  it('throws what the browser throws on a send before the channel opens, and starts no turn', () => {
    const { pc, turns } = setup();
    const channel = asPc(pc).createDataChannel('oai-events') as unknown as FakeChannel;
    channel.readyState = 'connecting';
    expect(() => channel.send(realtime('response.create'))).toThrow(/not open/);
    channel.readyState = 'open';
    pc.close();
    expect(turns).toEqual([]);
  });

  it('ends a channel the app closes as abandoned, and one the remote closes as clean', () => {
    const { pc, connections } = setup();
    const mine = asPc(pc).createDataChannel('a') as unknown as FakeChannel;
    const theirs = pc.remoteChannel('b');
    at(10);
    mine.close();
    mine.closed();
    at(20);
    theirs.closed();
    expect(connections.map((c) => [c.url, c.outcome, c.reason, c.closedAt])).toEqual([
      ['datachannel:a', 'abandoned', 'closed by the app', 10],
      ['datachannel:b', 'clean', undefined, 20],
    ]);
  });
});

describe('peer connection lifecycle', () => {
  it('drops a peer connection that stays disconnected past the grace time, as of when it disconnected', () => {
    const { pc, turns, connections } = setup({ graceMs: 1000, url: 'https://agent.test/session?token=secret' });
    const channel = asPc(pc).createDataChannel('oai-events') as unknown as FakeChannel;
    pc.state('connected');
    at(100);
    channel.send(realtime('response.create'));
    at(150);
    channel.deliver(realtime('response.output_text.delta', { delta: 'x' }));
    at(200);
    pc.state('disconnected');
    at(1199);
    expect(connections).toEqual([]);
    at(1200);
    expect(connections.map((c) => [c.url, c.outcome, c.reason, c.closedAt])).toEqual([
      ['datachannel:oai-events', 'dropped', 'disconnected', 200],
      ['https://agent.test/session?token=REDACTED', 'dropped', 'disconnected', 200],
    ]);
    expect(turns.map((t) => [t.outcome, t.e2eMs])).toEqual([['dropped', 50]]);
  });

  it('keeps a peer connection that reconnects within the grace time', () => {
    const { pc, connections } = setup({ graceMs: 1000 });
    pc.state('connected');
    at(100);
    pc.state('disconnected');
    at(600);
    pc.state('connected');
    at(5000);
    expect(connections).toEqual([]);
    pc.state('disconnected');
    at(5500);
    pc.state('failed');
    expect(connections.map((c) => [c.outcome, c.reason, c.closedAt])).toEqual([['dropped', 'failed', 5000]]);
  });

  it('ends cleanly when the remote peer closes DTLS, before ICE gives up', () => {
    const { pc, connections, turns } = setup();
    pc.sctp = { transport: pc.dtls };
    const channel = asPc(pc).createDataChannel('oai-events') as unknown as FakeChannel;
    pc.state('connected');
    at(100);
    channel.send(realtime('response.create'));
    channel.deliver(realtime('response.done', { response: { status: 'completed' } }));
    at(250);
    pc.dtlsClosed();
    at(5250);
    pc.state('disconnected');
    pc.state('failed');
    expect(connections.map((c) => [c.url, c.outcome, c.closedAt])).toEqual([
      ['datachannel:oai-events', 'clean', 250],
      [undefined, 'clean', 250],
    ]);
    expect(turns.map((t) => t.outcome)).toEqual(['complete']);
  });

  it('counts a close by the app as abandoned, once, with the turn in progress', () => {
    const { pc, connections, monitor, turns } = setup();
    const channel = asPc(pc).createDataChannel('oai-events') as unknown as FakeChannel;
    pc.state('connected');
    at(100);
    channel.send(realtime('response.create'));
    at(300);
    asPc(pc).close();
    pc.state('closed');
    asPc(pc).close();
    channel.closed();
    expect(connections.map((c) => [c.url, c.outcome, c.reason, c.closedAt])).toEqual([
      ['datachannel:oai-events', 'abandoned', 'closed by the app', 300],
      [undefined, 'abandoned', 'closed by the app', 300],
    ]);
    expect(turns.map((t) => [t.outcome, t.reason])).toEqual([['abandoned', 'closed by the app']]);
    expect(monitor.summary().connections).toMatchObject({ opened: 2, active: 0, abandoned: 2, dropped: 0 });
  });

  it('observes a peer connection once however often it is asked to', () => {
    const { pc, monitor, observation } = setup();
    expect(observePeerConnection(monitor, asPc(pc))).toBe(observation);
    expect(monitor.summary().connections.opened).toBe(1);
  });
});

describe('inbound audio stats', () => {
  it('reports each turn from its start to the next turn, and export intervals', async () => {
    const audio: Array<[string, AudioStats]> = [];
    const { pc, observation } = setup({ onTurnAudio: (id, s) => audio.push([id, s]) });
    const channel = asPc(pc).createDataChannel('oai-events') as unknown as FakeChannel;
    pc.inbound(0, 0);
    at(100);
    channel.send(realtime('response.create'));
    await vi.advanceTimersByTimeAsync(0);
    pc.inbound(48000, 4800); // 100 ms per sample
    channel.deliver(realtime('response.done', { response: { status: 'completed' } }));
    at(1100);
    channel.send(realtime('response.create'));
    await vi.advanceTimersByTimeAsync(0);
    expect(audio.map(([id, s]) => [id, s.from, s.to, s.jitterBufferEmittedCount, s.delayMs])).toEqual([['t1', 100, 1100, 48000, 100]]);

    expect(observation.takeInterval()).toMatchObject({ from: 0, to: 1100, jitterBufferEmittedCount: 48000 });
    pc.inbound(96000, 4800 + 960); // the next 48000 waited 20 ms each
    expect((await observation.sample()).jitterBufferEmittedCount).toBe(96000);
    const interval = observation.takeInterval();
    expect(interval.jitterBufferEmittedCount).toBe(48000);
    expect(interval.delayMs).toBeCloseTo(20, 9);
    expect(observation.stats().jitterBufferEmittedCount).toBe(96000);

    // The last turn's span ends with the peer connection.
    pc.state('failed');
    await vi.advanceTimersByTimeAsync(0);
    expect(audio.map(([id]) => id)).toEqual(['t1', 't2']);
  });

  it('samples at the interval, never more than one sample at a time', async () => {
    const { pc } = setup({ statsIntervalMs: 1000 });
    let release = () => {};
    pc.getStats = () => {
      pc.getStatsCalls++;
      return new Promise((resolve) => (release = () => resolve(pc.stats)));
    };
    await vi.advanceTimersByTimeAsync(3500);
    expect(pc.getStatsCalls).toBe(1);
    release();
    await vi.advanceTimersByTimeAsync(1000);
    expect(pc.getStatsCalls).toBe(2);
  });

  it('counts an app callback that throws as an error of its own, never throwing into the app', async () => {
    const { pc, errors, observation } = setup({
      onTurnAudio: () => {
        throw new Error('app bug');
      },
    });
    const channel = asPc(pc).createDataChannel('oai-events') as unknown as FakeChannel;
    channel.send(realtime('response.create'));
    channel.deliver(realtime('response.done', { response: { status: 'completed' } }));
    channel.send(realtime('response.create'));
    await vi.advanceTimersByTimeAsync(0);
    expect(errors.map(String)).toEqual(['Error: app bug']);
    expect(observation.internalErrors).toBe(1);
  });
});

describe('patchPeerConnection', () => {
  it('observes every peer connection constructed while patched, keeps instanceof, and restores the global', () => {
    const g = globalThis as { RTCPeerConnection?: unknown };
    const before = g.RTCPeerConnection;
    g.RTCPeerConnection = FakePeerConnection;
    try {
      const monitor: Monitor = createMonitor();
      const seen: unknown[] = [];
      const undo = patchPeerConnection(monitor, { audio: false, statsIntervalMs: 0, onPeer: (_o, pc) => seen.push(pc) });
      const Patched = g.RTCPeerConnection as typeof FakePeerConnection;
      expect(Patched).not.toBe(FakePeerConnection);
      const pc = new Patched();
      expect(pc).toBeInstanceOf(FakePeerConnection);
      class Sub extends Patched {}
      const sub = new Sub();
      expect(sub).toBeInstanceOf(Sub);
      expect(seen).toEqual([pc, sub]);
      expect(monitor.summary().connections.opened).toBe(2);
      undo();
      expect(g.RTCPeerConnection).toBe(FakePeerConnection);
    } finally {
      g.RTCPeerConnection = before;
    }
  });

  it('does nothing where there is no RTCPeerConnection', () => {
    const undo = patchPeerConnection(createMonitor());
    expect((globalThis as { RTCPeerConnection?: unknown }).RTCPeerConnection).toBeUndefined();
    undo();
  });
});
