import type { AdapterLike, WireData } from '../core/types';
import type { ManualTurn, Monitor, ObservedConnection } from '../monitor';
import { remoteAudio, type RemoteAudio } from './audio';
import { fromDb } from './onset';
import { AudioStatsAccumulator, between, type AudioSnapshot, type AudioStats } from './stats';
import { readInAppListeners } from '../transports/listeners';

export interface PeerOptions {
  /** How data-channel messages map to turns: the same adapters as for WebSocket. Default `adapters.raw()`. */
  adapter?: AdapterLike;
  /** URL reported for the peer connection (e.g. its signalling endpoint); redacted as the monitor's. */
  url?: string;
  /** A peer connection `disconnected` this long is dropped, as of when it disconnected. Default 5000 ms. */
  graceMs?: number;
  /** Inbound audio stats are sampled this often (and at each turn's start), ms; 0: only at turn starts. Default 1000. */
  statsIntervalMs?: number;
  /** JSON field in which a request sent on a data channel carries its turn's `traceparent`, when a sink traces. */
  messageField?: string;
  /** Listen to the remote audio for each turn's first heard sample (TTFA). Default true. */
  audio?: boolean;
  /**
   * Where the browser has no `MediaStreamTrackProcessor` (all but Chromium's), the remote audio is
   * analysed in Web Audio: in this context, default one of earshot's own, closed with the peer connection.
   */
  audioContext?: AudioContext;
  /** A sample at least this loud is sound, dB relative to full scale. Default -50. */
  thresholdDb?: number;
  /**
   * A turn's inbound audio: from its start to the start of the next turn of this peer connection, or
   * to its end, so the whole playout of a reply is in however long after its last message it plays.
   */
  onTurnAudio?: (turnId: string, stats: AudioStats) => void;
  /** Errors inside earshot's WebRTC observation (and of `onTurnAudio`), never thrown into the app. */
  onError?: (error: unknown) => void;
}

export interface PeerObservation {
  /** The peer connection as a connection: opens when observed, ends clean, dropped or abandoned. */
  readonly connection: ObservedConnection;
  /** Inbound audio since observing began, as of the latest sample. */
  stats(): AudioStats;
  /** Inbound audio since the previous call (or since observing began), as of the latest sample: one export interval. */
  takeInterval(): AudioStats;
  /** Samples the stats now; resolves with the inbound audio since observing began. */
  sample(): Promise<AudioStats>;
  /**
   * `turn`'s reply is the next sound heard on the remote audio from `since` on (default now): for a
   * voice turn the app drives itself. Its report waits for it.
   */
  expectAudio(turn: ManualTurn, since?: number): void;
  /** Errors inside the observation that were caught (never thrown into the app). */
  readonly internalErrors: number;
}

/** The observation of each peer connection: observing one twice returns the first. */
const observations = new WeakMap<RTCPeerConnection, PeerObservation>();

/**
 * Observe a real RTCPeerConnection in place: its lifecycle, every data channel it creates or
 * receives (each a connection whose messages the adapter turns into turns), the inbound audio
 * stats, and the first heard sound of each turn's reply. Call it right after constructing the peer
 * connection, before the app creates channels (or use `patchPeerConnection`).
 */
export function observePeerConnection(monitor: Monitor, pc: RTCPeerConnection, options: PeerOptions = {}): PeerObservation {
  let observation = observations.get(pc);
  if (!observation) observations.set(pc, (observation = new Peer(monitor, pc, options)));
  return observation;
}

/**
 * Observe every RTCPeerConnection the page constructs from now on; returns the undo. A Proxy keeps
 * `instanceof RTCPeerConnection`, the static methods and subclassing working.
 */
export function patchPeerConnection(monitor: Monitor, options: PeerOptions & { onPeer?: (observation: PeerObservation, pc: RTCPeerConnection) => void } = {}): () => void {
  const g = globalThis;
  const Previous = g.RTCPeerConnection;
  if (!Previous) return () => undefined;
  const { onPeer, ...peerOptions } = options;
  const Patched: typeof RTCPeerConnection = new Proxy(Previous, {
    construct(target, args: ConstructorParameters<typeof RTCPeerConnection>, newTarget) {
      const pc = Reflect.construct(target, args, newTarget === Patched ? target : newTarget) as RTCPeerConnection;
      try {
        onPeer?.(observePeerConnection(monitor, pc, peerOptions), pc);
      } catch (error) {
        // The app's own callback failed, or earshot did: either way the app gets its peer connection.
        try {
          options.onError?.(error);
        } catch {
          // Nor may the error callback's failure reach the constructor's caller.
        }
      }
      return pc;
    },
  });
  g.RTCPeerConnection = Patched;
  return () => {
    if (g.RTCPeerConnection === Patched) g.RTCPeerConnection = Previous;
  };
}

/** Per data channel: the time of its first message since its last turn ended, a bound on the next turn's start. */
interface ChannelState {
  idleSince: number | undefined;
  /** The monitor's active turn before the message at the app's code now. */
  before?: ManualTurn;
}

class Peer implements PeerObservation {
  readonly connection: ObservedConnection;
  internalErrors = 0;
  readonly #monitor: Monitor;
  readonly #pc: RTCPeerConnection;
  readonly #options: PeerOptions;
  readonly #channels = new Set<ObservedConnection>();
  readonly #dtls = new Set<RTCDtlsTransport>();
  readonly #stats: AudioStatsAccumulator;
  readonly #origin: AudioSnapshot;
  #taken: AudioSnapshot;
  /** Stats samples run one after another, so totals only move forward. */
  #queue: Promise<AudioSnapshot>;
  #sampling = 0;
  #interval: ReturnType<typeof setInterval> | undefined;
  #grace: ReturnType<typeof setTimeout> | undefined;
  #disconnectedAt: number | undefined;
  #ended = false;
  #audio: RemoteAudio | undefined;
  /** The turn waiting for its first heard sound, and the earliest time that sound can be its. */
  #pending: { turn: ManualTurn; since: number } | undefined;
  /** The turn whose inbound audio is being counted, and the sample its span starts at. */
  #window: { turn: ManualTurn; start: Promise<AudioSnapshot> } | undefined;

  constructor(monitor: Monitor, pc: RTCPeerConnection, options: PeerOptions) {
    this.#monitor = monitor;
    this.#pc = pc;
    this.#options = options;
    const now = performance.now();
    this.#stats = new AudioStatsAccumulator(now);
    this.#origin = this.#taken = this.#stats.latest;
    this.#queue = Promise.resolve(this.#origin);
    this.connection = monitor.connection('webrtc', options.url);
    this.#guard(() => this.#observe());
  }

  stats(): AudioStats {
    return between(this.#origin, this.#stats.latest);
  }

  takeInterval(): AudioStats {
    const from = this.#taken;
    return between(from, (this.#taken = this.#stats.latest));
  }

  async sample(): Promise<AudioStats> {
    return between(this.#origin, await this.#sample());
  }

  expectAudio(turn: ManualTurn, since = performance.now()): void {
    this.#guard(() => this.#turnStarted(turn, since));
  }

  #observe(): void {
    const pc = this.#pc;
    const self = this;
    const create = pc.createDataChannel;
    pc.createDataChannel = function (this: RTCPeerConnection, ...args: Parameters<RTCPeerConnection['createDataChannel']>) {
      const channel = create.apply(this, args);
      self.#guard(() => self.#channel(channel));
      return channel;
    };
    const close = pc.close;
    pc.close = function (this: RTCPeerConnection) {
      // Ended first: Chromium 150 fires the DTLS transport's `closed` inside close(), which alone
      // reads as the peer hanging up.
      self.#guard(() => self.#end('abandoned', performance.now(), 'closed by the app'));
      close.call(this);
    };
    pc.addEventListener('datachannel', (e) => this.#guard(() => this.#channel(e.channel)));
    pc.addEventListener('track', (e) => this.#guard(() => this.#track(e.track)));
    const state = () => this.#guard(() => this.#state());
    pc.addEventListener('connectionstatechange', state);
    pc.addEventListener('iceconnectionstatechange', state);
    // A peer connection observed late may be connected (or gone) already.
    state();
    for (const receiver of pc.getReceivers()) this.#guard(() => this.#track(receiver.track));
    const every = this.#options.statsIntervalMs ?? 1000;
    if (every > 0) {
      this.#interval = setInterval(() => {
        // A sample still running (a slow getStats) is not queued behind.
        if (this.#sampling === 0) void this.#sample();
      }, every);
    }
  }

  #guard<T>(work: () => T): T | undefined {
    try {
      return work();
    } catch (error) {
      this.#error(error);
      return undefined;
    }
  }

  #error(error: unknown): void {
    this.internalErrors++;
    try {
      this.#options.onError?.(error);
    } catch {
      // The app's error callback failing must not become an exception in its own handlers.
    }
  }

  /**
   * Connection state (ICE state where a browser has none): `failed` is a drop, and so is
   * `disconnected` that lasts the grace time, as of when it disconnected.
   */
  #state(): void {
    const pc = this.#pc;
    const state = (pc.connectionState ?? pc.iceConnectionState) as RTCPeerConnectionState | RTCIceConnectionState;
    const now = performance.now();
    if (state === 'failed') this.#end('dropped', this.#disconnectedAt ?? now, 'failed');
    else if (state === 'disconnected') {
      if (this.#disconnectedAt !== undefined) return;
      const at = (this.#disconnectedAt = now);
      this.#grace = setTimeout(() => this.#guard(() => this.#end('dropped', at, 'disconnected')), this.#options.graceMs ?? 5000);
    } else if (state === 'connected' || state === 'completed') {
      clearTimeout(this.#grace);
      this.#disconnectedAt = undefined;
      this.#transports();
    }
  }

  /**
   * A remote peer that hangs up cleanly closes DTLS (close_notify): its transport goes `closed`,
   * while the connection state would only go `disconnected` and `failed` once ICE gives up.
   */
  #transports(): void {
    const pc = this.#pc;
    for (const { transport } of [...pc.getReceivers(), ...pc.getSenders(), ...(pc.sctp ? [pc.sctp] : [])]) {
      if (!transport || this.#dtls.has(transport)) continue;
      this.#dtls.add(transport);
      transport.addEventListener('statechange', () => {
        if (transport.state === 'closed') this.#guard(() => this.#end('clean', performance.now()));
      });
    }
  }

  /** The peer connection ended: so does every channel of it, and any turn open on one. */
  #end(outcome: 'clean' | 'dropped' | 'abandoned', at: number, reason?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#interval);
    clearTimeout(this.#grace);
    for (const channel of this.#channels) channel.close(outcome, at, reason);
    this.connection.close(outcome, at, reason);
    this.#pending = undefined;
    this.#closeWindow(this.#sample());
    this.#audio?.close();
  }

  #track(track: MediaStreamTrack): void {
    if (track.kind !== 'audio' || this.#options.audio === false || this.#ended) return;
    this.#audio ??= remoteAudio(this.#options.audioContext, fromDb(this.#options.thresholdDb ?? -50), (at, released) => this.#heard(at, released));
    this.#audio.add(track);
    if (this.#pending) this.#audio.watch();
  }

  /**
   * An onset at `at`: the pending turn's first audio if it came after the turn began. Released by
   * the jitter buffer at `at`, it is heard after the device path's delay (media-playout stats, sampled
   * now so that the first reply has them too).
   */
  #heard(at: number, released: boolean): boolean {
    const pending = this.#pending;
    if (!pending) return false;
    if (at < pending.since) return true;
    this.#pending = undefined;
    const turn = pending.turn;
    if (!released) this.#guard(() => turn.audioHeard(at));
    else void this.sample().then((s) => this.#guard(() => turn.audioHeard(at + (s.playoutDelayMs ?? 0))));
    return false;
  }

  /** A turn of this peer connection started (its request left, or its first content arrived). */
  #turnStarted(turn: ManualTurn, since: number): void {
    if (this.#ended) return;
    if (this.#options.audio !== false && this.#pc.getReceivers().some((r) => r.track.kind === 'audio')) {
      turn.awaitAudio();
      this.#pending = { turn, since };
      this.#audio?.watch();
    }
    const start = this.#sample();
    this.#closeWindow(start);
    this.#window = { turn, start };
  }

  /** The current turn's span of inbound audio ends at `end`: report it. */
  #closeWindow(end: Promise<AudioSnapshot>): void {
    const window = this.#window;
    const report = this.#options.onTurnAudio;
    this.#window = undefined;
    if (!window || !report) return;
    void Promise.all([window.start, end]).then(([a, b]) => {
      const id = window.turn.id;
      if (id !== undefined) this.#guard(() => report(id, between(a, b)));
    });
  }

  /** Queue a stats sample; a peer connection that is closed keeps its latest totals. */
  #sample(): Promise<AudioSnapshot> {
    this.#sampling++;
    const next = this.#queue.then(async () => {
      try {
        if (this.#pc.signalingState !== 'closed') return this.#stats.add(await this.#pc.getStats(), performance.now());
      } catch (error) {
        // getStats rejects once the app closes the peer connection mid-sample: keep the totals.
        if (this.#pc.signalingState !== 'closed') this.#error(error);
      } finally {
        this.#sampling--;
      }
      return this.#stats.latest;
    });
    this.#queue = next;
    return next;
  }

  #channel(channel: RTCDataChannel): void {
    if (this.#ended) return;
    const monitor = this.#monitor;
    const connection = monitor.connection('webrtc', `datachannel:${channel.label}`, { adapter: this.#options.adapter });
    this.#channels.add(connection);
    const state: ChannelState = { idleSince: undefined };
    const field = this.#options.messageField;
    const self = this;
    let closedByApp = false;
    const send = channel.send as (data: WireData) => void;
    const close = channel.close;
    channel.send = function (this: RTCDataChannel, data: WireData) {
      const at = performance.now();
      // Classified before it leaves, so that a turn it starts can carry its trace context in it. A
      // send before the channel opens throws and sends nothing: no turn.
      const turn = this.readyState === 'open' ? connection.sent(data, at) : undefined;
      const traceparent = turn?.traceparent;
      const carried = field && traceparent && self.#guard(() => withField(data, field, traceparent));
      // The app's call runs unguarded so its exceptions are exactly the browser's.
      send.call(this, carried || data);
      // The rest waits until the message is on its way.
      if (turn) {
        self.#guard(() => {
          state.idleSince = undefined;
          self.#turnStarted(turn, at);
        });
      }
    } as RTCDataChannel['send'];
    channel.close = function (this: RTCDataChannel) {
      close.call(this);
      closedByApp = true;
    };
    // Stamped right before the app's code gets the message and recorded after it, as on a WebSocket.
    const add = readInAppListeners(channel, {
      arriving(data) {
        state.before = monitor.activeTurn();
        connection.arriving(data);
      },
      // After each listener of the app's: the turn the message made active (reading it records the
      // message first).
      settle() {
        const { before } = state;
        const after = (state.before = monitor.activeTurn());
        // Content of the turn already known, the common case, needs nothing more (not even the clock).
        if (after === before && after) return;
        try {
          self.#afterMessage(state, before, after, performance.now());
        } catch (error) {
          self.#error(error);
        }
      },
    });
    add.call(channel, 'close', () => {
      const at = performance.now();
      if (closedByApp) connection.close('abandoned', at, 'closed by the app');
      else connection.close('clean', at);
      this.#channels.delete(connection);
    });
  }

  /**
   * After a received message: a turn the server started (e.g. `response.created`, then content)
   * is known once it has content, as the monitor's active turn. Its reply can be heard from its
   * first message on: the first message since the previous turn ended.
   */
  #afterMessage(state: ChannelState, before: ManualTurn | undefined, after: ManualTurn | undefined, at: number): void {
    const current = this.#window?.turn;
    if (after && after !== before) {
      // This message's content made `after` the active turn: a new one, or the current one's first.
      if (after !== current) this.#turnStarted(after, state.idleSince ?? at);
      state.idleSince = undefined;
    } else if (!after && before !== current) state.idleSince ??= at;
  }
}

/** A JSON object message with `field` set to `value`; undefined for anything else (sent as it was). */
function withField(data: WireData, field: string, value: string): string | undefined {
  if (typeof data !== 'string') return undefined;
  try {
    const o: unknown = JSON.parse(data);
    if (o && typeof o === 'object' && !Array.isArray(o)) return JSON.stringify({ ...o, [field]: value });
  } catch {
    // Not JSON: the message goes as the app wrote it.
  }
  return undefined;
}
