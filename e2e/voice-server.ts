/**
 * A scripted voice server for e2e/voice.spec.ts, speaking a small part of the OpenAI Realtime
 * protocol over WebSocket, with a reply whose timing is known:
 *
 * - The app streams its microphone as `input_audio_buffer.append` events (base64 24 kHz PCM16).
 *   With `?vad=server` the server runs earshot's VAD (the same `Vad` class the browser runs) on that
 *   audio, as a Realtime server does, and sends `input_audio_buffer.speech_stopped` the moment it
 *   detects the end of speech, `audio_end_ms` being the end of the last voiced audio since the first
 *   append. Otherwise the app's own `response.create` is the end of speech.
 * - The end of speech (received `response.create`, or detected) starts the reply: `response.created`
 *   after `createdAfterMs`, the first audio delta exactly `replyAfterMs` after, then one delta every
 *   `chunkMs` (a 440 Hz tone, audible from its first sample), then `response.done`.
 *
 * Every receive and send is logged per connection with the server's `performance.now()`, so a spec
 * compares durations on the server's clock with what the browser measured. A connection to `/ping`
 * echoes each message at once, unlogged: the page times its loopback with it.
 *
 * It runs in a child process of its own (`spawnVoiceServer`), so that the test runner's work does
 * not delay its timers: `node --import tsx e2e/voice-server.ts D CREATED` prints `{"port":N}` once
 * it listens; `GET /log` gives every connection's log and `GET /loop` its event loop's worst delay
 * since the last call.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WebSocketServer, type RawData } from 'ws';
import { Vad } from '../src/audio/vad';

export interface VoiceServerOptions {
  /** End of speech to the first audio delta, ms: D. */
  replyAfterMs: number;
  /** End of speech to `response.created`, ms. */
  createdAfterMs: number;
  /** Media per audio delta, and the gap between deltas, ms. Default 40. */
  chunkMs?: number;
  /** Audio deltas per reply. Default 10. */
  chunks?: number;
}

export interface ServerEntry {
  /** Server performance.now(), ms. */
  t: number;
  what: 'request' | 'speech_stopped' | 'created' | 'audio' | 'done';
  /** `speech_stopped`: its `audio_end_ms`. */
  audioEndMs?: number;
}

/** The server in its child process. */
export interface VoiceServer {
  /** Whether it runs with real-time scheduling (see `spawnVoiceServer`). */
  readonly realtime: boolean;
  /** `ws://127.0.0.1:<port>/`. */
  readonly url: string;
  /** `ws://127.0.0.1:<port>/ping`: the echo the page times its loopback with. */
  readonly pingUrl: string;
  /** One log per connection, in the order they opened. */
  logs(): Promise<ServerEntry[][]>;
  /** The event loop's worst delay since the last call, ms: how late the server could have been. */
  loopDelayMs(): Promise<number>;
  close(): void;
}

/**
 * Real-time scheduling (SCHED_FIFO) for the server where the machine allows it (root, or
 * CAP_SYS_NICE): on two cores beside Chromium's renderer, network and audio threads, a server at
 * normal priority wakes late, by 15-96 ms measured here, and its log then times its own lateness
 * rather than the browser's. Its own work is small, so it cannot starve the browser.
 */
const REALTIME = ['chrt', '-f', '50'];
const canRealtime = (): boolean => spawnSync(REALTIME[0], [...REALTIME.slice(1), 'true']).status === 0;

/** Starts the server in a child process; resolves once it listens. */
export async function spawnVoiceServer(options: VoiceServerOptions): Promise<VoiceServer> {
  const args = [options.replyAfterMs, options.createdAfterMs, options.chunkMs ?? 40, options.chunks ?? 10].map(String);
  const realtime = canRealtime();
  const command = [...(realtime ? REALTIME : []), process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), ...args];
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the voice server exited (${code})`)));
    child.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(String(d)) as { port: number }).port));
  });
  const get = async <T>(path: string) => (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as T;
  return {
    realtime,
    url: `ws://127.0.0.1:${port}/`,
    pingUrl: `ws://127.0.0.1:${port}/ping`,
    logs: () => get<ServerEntry[][]>('/log'),
    loopDelayMs: () => get<number>('/loop'),
    close: () => void child.kill(),
  };
}

const RATE = 24000;

/** `ms` of a 440 Hz tone at -10 dBFS as 24 kHz PCM16 little-endian, starting at sample `from`. */
function tone(ms: number, from: number): Buffer {
  const n = (RATE * ms) / 1000;
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeInt16LE(Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * 440 * (from + i)) / RATE)), i * 2);
  return out;
}

/** Serves each connection `wss` accepts, logging it in `logs`. */
function serve(wss: WebSocketServer, options: VoiceServerOptions, logs: ServerEntry[][]): void {
  const { replyAfterMs, createdAfterMs, chunkMs = 40, chunks = 10 } = options;
  wss.on('connection', (ws, req) => {
    (req.socket as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    // The page's loopback probe: every message answered at once, nothing logged.
    if (req.url?.startsWith('/ping')) return void ws.on('message', (data: RawData) => ws.send(data));
    const log: ServerEntry[] = [];
    logs.push(log);
    /** Sends `event`, logged at the moment it is handed to the socket; returns that moment. */
    const send = (event: Record<string, unknown>, what: ServerEntry['what'], extra?: Partial<ServerEntry>): number => {
      const t = performance.now();
      if (ws.readyState !== ws.OPEN) return t;
      log.push({ t, what, ...extra });
      ws.send(JSON.stringify(event));
      return t;
    };
    let replies = 0;

    /** The reply to an end of speech at server time `start`, each step timed from it (never drifting). */
    const reply = (start: number) => {
      const n = replies++;
      const steps: Array<[number, () => void]> = [[createdAfterMs, () => send({ type: 'response.created', response: { id: `r${n}` } }, 'created')]];
      for (let i = 0; i < chunks; i++) {
        const delta = tone(chunkMs, (i * RATE * chunkMs) / 1000).toString('base64');
        steps.push([replyAfterMs + i * chunkMs, () => send({ type: 'response.output_audio.delta', response_id: `r${n}`, delta }, 'audio')]);
      }
      steps.push([
        replyAfterMs + (chunks - 1) * chunkMs,
        () => send({ type: 'response.done', response: { id: `r${n}`, status: 'completed', usage: { output_tokens: chunks } } }, 'done'),
      ]);
      steps.sort((a, b) => a[0] - b[0]);
      let i = 0;
      const tick = () => {
        // Timers fire up to a millisecond late: what is due within half a millisecond goes now.
        while (i < steps.length && start + steps[i][0] - performance.now() <= 0.5) steps[i++][1]();
        if (i < steps.length) setTimeout(tick, start + steps[i][0] - performance.now());
      };
      tick();
    };

    // The server's VAD over the appended audio, its clock the audio position (ms since the first append).
    const serverVad = new URL(req.url ?? '/', 'http://x').searchParams.get('vad') === 'server';
    let positionMs = 0;
    const vad = new Vad({ sampleRate: RATE }, (e) => {
      if (e.type !== 'speechend') return;
      const audioEndMs = Math.round(e.time);
      const event = { type: 'input_audio_buffer.speech_stopped', event_id: `vad${replies}`, audio_end_ms: audioEndMs, item_id: `i${replies}` };
      reply(send(event, 'speech_stopped', { audioEndMs }));
    });

    ws.on('message', (data: RawData) => {
      const at = performance.now();
      let event: { type?: string; audio?: string };
      try {
        event = JSON.parse(data.toString()) as typeof event;
      } catch {
        return;
      }
      if (event.type === 'response.create' && !serverVad) {
        log.push({ t: at, what: 'request' });
        reply(at);
      } else if (event.type === 'input_audio_buffer.append' && serverVad && event.audio) {
        const pcm = Buffer.from(event.audio, 'base64');
        const samples = new Float32Array(pcm.length >> 1);
        for (let i = 0; i < samples.length; i++) samples[i] = pcm.readInt16LE(i * 2) / 32768;
        vad.push(samples, positionMs);
        positionMs += (samples.length * 1000) / RATE;
      }
    });
  });

}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [replyAfterMs, createdAfterMs, chunkMs, chunks] = process.argv.slice(2).map(Number);
  const logs: ServerEntry[][] = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  serve(wss, { replyAfterMs, createdAfterMs, chunkMs, chunks }, logs);
  const server = createServer({ noDelay: true }, (req, res) => {
    let body: unknown = logs;
    if (req.url === '/loop') {
      body = loop.max / 1e6;
      loop.reset();
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)));
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }));
  });
}
