/**
 * Voice turn test page: a voice app built on earshot's shipped entries (dist/). It listens to the
 * microphone (Chromium's fake capture device playing e2e/fixtures/speech.wav) with
 * `listenToMicrophone`, talks to e2e/voice-server.ts over an observed WebSocket in Realtime events,
 * and plays the reply through the jitter-buffer player, with `voiceTurns` wired as docs/voice.md
 * says. It stamps its own ground truth around each call into earshot and first thing in its
 * handlers (earshot stamps right before calling them), and times its loopback to the server with a
 * probe of its own; specs call `window.voicePage`.
 *
 * `vad` mode: the app's end of speech (earshot's VAD) is the request (`response.create`).
 * `server` mode: the app streams its microphone as appends and the server's VAD ends the speech; the
 * local VAD's ends are recorded only, to compare with the server's mapped to local time.
 */
import type { TurnReport } from '../../src/core/types';
import type * as Earshot from '../../src/index';
import type * as JitterBuffer from '../../src/jitter-buffer';
import type * as Microphone from '../../src/microphone';
import type { SpeechEvent, VoiceTurnReport } from '../../src/microphone';

/** The built entries, as e2e/voice.spec.ts copied them from dist/ (a rebuild elsewhere cannot pull them away). */
const APP = '/e2e/artifacts/voice-app';
const [earshot, jitterBuffer, mic] = (await Promise.all([
  import(`${APP}/earshot.js`),
  import(`${APP}/jitter-buffer.js`),
  import(`${APP}/microphone.js`),
])) as [typeof Earshot, typeof JitterBuffer, typeof Microphone];

const RATE = 24000;
/** Audio per append: 20 ms. */
const APPEND_SAMPLES = 480;

export interface VoicePageState {
  voice: VoiceTurnReport[];
  turns: TurnReport[];
  /** The local VAD's ends of speech. */
  speechEnds: SpeechEvent[];
  /** performance.now() just before and just after each `response.create` was sent (vad mode). */
  requests: Array<[number, number]>;
  /** performance.now() in the app's handler of each reply's first message (`speech_stopped` or `response.created`). */
  firstMessage: number[];
  /** performance.now() in the app's handler of each reply's first audio delta. */
  firstAudio: number[];
  /** performance.now() just before and just after each reply's first push to the player. */
  pushes: Array<[number, number]>;
  /** The player's `playing` time of each reply: its first audible sample, heard. */
  playing: number[];
  appends: number;
  /** The loopback probe: [performance.now() it was sent, round trip ms] of each echo. */
  pings: Array<[number, number]>;
  outputLatencyMs: number;
  errors: string[];
}

/** The jitter buffer's bounds, e.g. `maxDelayMs: 0` to play each reply at once. */
export type PagePlayerOptions = Pick<JitterBuffer.PlayerOptions, 'minDelayMs' | 'maxDelayMs'>;

declare global {
  interface Window {
    voicePage: { run(url: string, pingUrl: string, mode: 'vad' | 'server', player?: PagePlayerOptions): Promise<void>; state: VoicePageState };
  }
}

/**
 * The page's loopback to the server as it is now (the renderer, the network service and the socket
 * under this page's load): a plain WebSocket (not earshot's) echoing a message every 20 ms, timed
 * until the page goes away.
 */
function probeLoopback(pingUrl: string): void {
  const probe = new WebSocket(pingUrl);
  let sentAt = 0;
  const ping = () => {
    sentAt = performance.now();
    probe.send('ping');
  };
  probe.onopen = ping;
  probe.onmessage = () => {
    state.pings.push([sentAt, performance.now() - sentAt]);
    setTimeout(ping, 20);
  };
}

/** The capture side of a Realtime app: each render quantum's input, to the main thread. */
const CAPTURE = `registerProcessor('voice-capture', class extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(channel.slice(0));
    return true;
  }
});`;

const state: VoicePageState = {
  voice: [],
  turns: [],
  speechEnds: [],
  requests: [],
  firstMessage: [],
  firstAudio: [],
  pushes: [],
  playing: [],
  appends: 0,
  pings: [],
  outputLatencyMs: NaN,
  errors: [],
};

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return btoa(s);
}

window.voicePage = {
  state,
  async run(url, pingUrl, mode, playerOptions = {}) {
    probeLoopback(pingUrl);
    const ctx = new AudioContext({ sampleRate: RATE, latencyHint: 'interactive' });
    await ctx.resume();
    const voice = mic.voiceTurns();
    voice.onVoiceTurn((r) => state.voice.push(r));
    const monitor = earshot.createMonitor({
      sink: mic.combineSinks(voice, { turn: (r) => void state.turns.push(r) }),
      onError: (e) => state.errors.push(String(e)),
    });
    const player = await jitterBuffer.createPlayer(ctx, { ...playerOptions, sampleRate: RATE, monitor: voice });
    player.addEventListener('playing', (e) => state.playing.push(e.detail.time));

    const ws = monitor.websocket(url, undefined, { adapter: voice.adapter(earshot.adapters.openaiRealtime()) });
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    /** Where the reply is: `open` once its first message came, `audio` once its audio did. */
    let reply: 'none' | 'open' | 'audio' = 'none';
    ws.onmessage = (e: MessageEvent<string>) => {
      const at = performance.now();
      const event = JSON.parse(e.data) as { type: string; delta?: string };
      if (reply === 'none') {
        state.firstMessage.push(at);
        reply = 'open';
      }
      if (event.type === 'response.output_audio.delta') {
        const bytes = Uint8Array.from(atob(event.delta!), (c) => c.charCodeAt(0));
        if (reply === 'audio') return player.push(bytes);
        state.firstAudio.push(at);
        reply = 'audio';
        const before = performance.now();
        player.push(bytes);
        state.pushes.push([before, performance.now()]);
      } else if (event.type === 'response.done') {
        reply = 'none';
        player.end();
      }
    };

    // Worklets loaded before the capture starts, so no speech is missed while they load.
    await ctx.audioWorklet.addModule(`${APP}/vad-worklet.js`);
    await ctx.audioWorklet.addModule(URL.createObjectURL(new Blob([CAPTURE], { type: 'text/javascript' })));
    const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    await mic.listenToMicrophone(ctx, stream, {
      onSpeechEnd(e) {
        state.speechEnds.push(e);
        if (mode !== 'vad') return;
        voice.speechEnded(e.time, 'vad');
        const before = performance.now();
        ws.send(JSON.stringify({ type: 'response.create' }));
        state.requests.push([before, performance.now()]);
      },
    });
    state.outputLatencyMs = ctx.outputLatency * 1000;
    if (mode !== 'server') return;
    // The microphone as appends of 20 ms of PCM16, each sent as soon as it is full.
    const capture = new AudioWorkletNode(ctx, 'voice-capture', { numberOfInputs: 1, numberOfOutputs: 0 });
    ctx.createMediaStreamSource(stream).connect(capture);
    const pcm = new Int16Array(APPEND_SAMPLES);
    let fill = 0;
    capture.port.onmessage = ({ data }: MessageEvent<Float32Array>) => {
      for (let i = 0; i < data.length; i++) {
        pcm[fill++] = Math.max(-32768, Math.min(32767, Math.round(data[i] * 32768)));
        if (fill < APPEND_SAMPLES) continue;
        fill = 0;
        ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: base64(new Uint8Array(pcm.buffer)) }));
        state.appends++;
      }
    };
  },
};
