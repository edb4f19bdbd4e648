/**
 * A voice agent for the WebRTC end-to-end tests, built on werift: it answers a browser's offer, sends
 * one Opus audio track paced at 20 ms per packet (digital silence, and a tone where a turn's script
 * puts it), and answers each `response.create` on a data channel with OpenAI-Realtime-like events
 * (`response.created`, `response.output_text.delta`..., `response.done`) at scripted times.
 *
 * It runs as its own process so a test can kill it (the peer vanishes without a goodbye):
 * `node --import tsx e2e/webrtc-peer.ts [port]` prints `{"port":N}` once it listens; `spawnPeer()`
 * does that and waits for it.
 *
 * HTTP, CORS open, sessions named by `id`:
 *   POST /offer?id=X[&jitter=MS][&channel=NAME]   body: the browser's SDP offer; replies with the
 *        answer once ICE gathering is complete (no trickle). `jitter`: each audio packet leaves up
 *        to MS late (uniform, seeded, order kept), so the receiver sees delay variation. `channel`:
 *        the peer also opens a data channel NAME and sends the turns' events on it.
 *   GET  /log?id=X     what the session sent and when (`SessionLog`)
 *
 * A turn's script is the `script` object of its `response.create` (see `TurnScript`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import OpusScript from 'opusscript';
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket, type RTCDataChannel, type RTCRtpTransceiver } from 'werift';
import { parseGaps } from './script';

export const SAMPLE_RATE = 48000;
export const PACKET_MS = 20;
const PACKET_SAMPLES = (SAMPLE_RATE * PACKET_MS) / 1000;
/** The scripted audio's tone at media sample `i`: a 440 Hz sine at 0.3 (about -10 dBFS), at full level from its first sample. */
export const tone = (i: number): number => 0.3 * Math.sin((2 * Math.PI * 440 * i) / SAMPLE_RATE);
/** Silent packets after a tone before the talkspurt ends. */
const TAIL_PACKETS = 10;

export interface TurnScript {
  /** Gap before each text delta, from the request's arrival (`e2e/script.ts` syntax). Default five of 10 ms. */
  gaps?: string;
  /** The tone starts with the first packet due this long after the request arrived. Omitted: no audio. */
  audioAtMs?: number;
  /** Tone length, ms. Default 400. */
  toneMs?: number;
  /** Each audio packet of this turn leaves up to this late (uniform, seeded, order kept), ms. Default: the session's `jitter`. */
  jitterMs?: number;
}

export interface TurnLog {
  /** When the `response.create` arrived. */
  request: number;
  /** Index of the first packet carrying the tone (packet k is due at k x 20 ms), if any. */
  onsetPacket?: number;
  /** That packet's RTP timestamp as sent (werift adds its random offset): what the receiver reports playing. */
  onsetRtp?: number;
  /** When that packet left. */
  onsetSent?: number;
  /** When each text delta left. */
  text: number[];
}

/** Times are ms on the session's clock: since its connection came up (packet k is due at k x 20 ms). */
export interface SessionLog {
  /** Packets sent so far. */
  packets: number;
  /** How late packets left against their 20 ms schedule: mean and max, ms. */
  lateMeanMs: number;
  lateMaxMs: number;
  /** Each packet as it left: [packet index (its media time is index x 20 ms), when]. */
  sent: Array<[number, number]>;
  turns: TurnLog[];
}

/** Deterministic uniform [0, 1) (mulberry32), so a jittered schedule is the same on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Session {
  readonly pc = new RTCPeerConnection({
    codecs: { audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: SAMPLE_RATE, channels: 2 })] },
  });
  readonly log: SessionLog = { packets: 0, lateMeanMs: 0, lateMaxMs: 0, sent: [], turns: [] };
  #transceiver: RTCRtpTransceiver | undefined;
  #events: RTCDataChannel | undefined;
  /** performance.now() of the session clock's zero: when the connection came up. */
  #start = 0;
  #lateSum = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Next packet index to send, its due time, and whether it starts a talkspurt. */
  #next = 0;
  #due = 0;
  #talkspurt = true;
  /** Packet index spans `[from, to)` with audio (each turn's, from its request to after its tone), and their send jitter. */
  readonly #spans: Array<[number, number, number]> = [];
  readonly #encoder = new OpusScript(SAMPLE_RATE, 1, OpusScript.Application.AUDIO);
  readonly #pcm = Buffer.alloc(PACKET_SAMPLES * 2);
  /** Packet index spans `[from, to)` of the tone. */
  readonly #tones: Array<[number, number]> = [];
  readonly #jitter: () => number;

  constructor(
    readonly jitterMs: number,
    readonly channel: string | undefined,
  ) {
    this.#jitter = random(7);
    this.pc.onDataChannel.subscribe((dc) => this.#listen(dc));
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === 'connected' && this.#start === 0) this.#start = performance.now();
      if (state === 'closed' || state === 'failed') this.stop();
    });
  }

  async answer(offer: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer });
    this.#transceiver = this.pc.getTransceivers().find((t) => t.kind === 'audio');
    this.#transceiver?.setDirection('sendonly');
    if (this.channel) this.#listen(this.pc.createDataChannel(this.channel), true);
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    // werift gathers its host candidates into the description before it resolves: no trickle.
    return this.pc.localDescription!.sdp;
  }

  /** The session's clock: ms since the connection came up; packet k is due at k x 20 ms. */
  now(): number {
    return performance.now() - this.#start;
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #listen(dc: RTCDataChannel, events = false): void {
    if (events || !this.channel) this.#events ??= dc;
    dc.onMessage.subscribe((data) => {
      try {
        const msg = JSON.parse(data.toString()) as { type?: string; script?: TurnScript };
        if (msg.type === 'response.create') this.#turn(msg.script ?? {});
      } catch {
        // Not an event: the app's own traffic.
      }
    });
  }

  #send(event: Record<string, unknown>): void {
    const dc = this.#events;
    if (dc?.readyState === 'open') dc.send(JSON.stringify(event));
  }

  #turn(script: TurnScript): void {
    const n = this.log.turns.length;
    const request = this.now();
    const turn: TurnLog = { request, text: [] };
    this.log.turns.push(turn);
    const ids = { response_id: `resp_${n}`, item_id: `item_${n}`, output_index: 0, content_index: 0 };
    this.#send({ type: 'response.created', event_id: `evt_${n}_c`, response: { id: ids.response_id, status: 'in_progress' } });
    if (script.audioAtMs !== undefined) {
      const from = Math.ceil((request + script.audioAtMs) / PACKET_MS);
      const to = from + Math.ceil((script.toneMs ?? 400) / PACKET_MS);
      this.#tones.push([from, to]);
      // The talkspurt: silence from the request, the tone, then a short silent tail.
      this.#spans.push([Math.max(this.#next, Math.ceil(request / PACKET_MS)), to + TAIL_PACKETS, script.jitterMs ?? this.jitterMs]);
      turn.onsetPacket = from;
      this.#pump();
    }
    const gaps = parseGaps(script.gaps);
    let at = 0;
    const steps = gaps.map((gap, i) => ({
      at: (at += gap),
      run: () => {
        this.#send({ type: 'response.output_text.delta', event_id: `evt_${n}_${i}`, ...ids, delta: `tok${i} ` });
        turn.text.push(this.now());
      },
    }));
    steps.push({
      at,
      run: () => {
        this.#send({ type: 'response.output_text.done', event_id: `evt_${n}_d`, ...ids });
        const usage = { total_tokens: 7 + gaps.length, input_tokens: 7, output_tokens: gaps.length };
        this.#send({ type: 'response.done', event_id: `evt_${n}_e`, response: { id: ids.response_id, status: 'completed', usage } });
      },
    });
    // Each step is timed from the request, so timer lateness does not accumulate.
    const start = performance.now();
    let i = 0;
    const tick = (): void => {
      while (i < steps.length) {
        const wait = start + steps[i].at - performance.now();
        if (wait > 0.5) {
          setTimeout(tick, wait);
          return;
        }
        steps[i++].run();
      }
    };
    tick();
  }

  /**
   * Packets leave on a 20 ms grid from the session's start (plus the scripted jitter), each due time
   * from the first, and only inside a turn's talkspurt: between turns the track is quiet, as with
   * discontinuous transmission, so a reply's audio never queues behind earlier audio.
   */
  #pump(): void {
    clearTimeout(this.#timer);
    const sender = this.#transceiver?.sender;
    if (!sender || this.#start === 0) return;
    for (;;) {
      const now = this.now();
      const k = this.#next;
      // Spans are in request order: those behind the next packet are done.
      while (this.#spans.length && this.#spans[0][1] <= k) this.#spans.shift();
      const span = this.#spans[0];
      if (!span) return;
      if (k < span[0]) {
        // Idle until the next talkspurt: its first packet starts a new due-time sequence.
        this.#next = span[0];
        this.#due = span[0] * PACKET_MS;
        this.#talkspurt = true;
        continue;
      }
      this.#due = Math.max(this.#due, k * PACKET_MS + this.#jitter() * span[2]);
      const wait = this.#due - now;
      if (wait > 0.5) {
        this.#timer = setTimeout(() => this.#pump(), wait);
        return;
      }
      const late = Math.max(0, -wait);
      this.#lateSum += late;
      this.log.packets++;
      this.log.lateMaxMs = Math.max(this.log.lateMaxMs, late);
      this.log.lateMeanMs = this.#lateSum / this.log.packets;
      const loud = this.#tones.some(([from, to]) => k >= from && k < to);
      for (let s = 0; s < PACKET_SAMPLES; s++) this.#pcm.writeInt16LE(loud ? Math.round(32767 * tone(k * PACKET_SAMPLES + s)) : 0, s * 2);
      const payload = Buffer.from(this.#encoder.encode(this.#pcm, PACKET_SAMPLES));
      // werift rewrites the header it is given (SSRC, offsets) and keeps it for retransmission.
      const header = new RtpHeader({ sequenceNumber: this.log.packets & 0xffff, timestamp: (k * PACKET_SAMPLES) >>> 0, marker: this.#talkspurt });
      this.#talkspurt = false;
      // werift stamps the header before its first await.
      void sender.sendRtp(new RtpPacket(header, payload));
      this.log.sent.push([k, this.now()]);
      for (const turn of this.log.turns) {
        if (turn.onsetPacket !== k) continue;
        turn.onsetSent = this.now();
        turn.onsetRtp = header.timestamp;
      }
      this.#next = k + 1;
    }
  }
}

/** A peer running in a child process (so that it can be killed): where it listens, and its sessions' logs. */
export interface PeerProcess {
  url: string;
  process: ChildProcess;
  log(id: string): Promise<SessionLog>;
}

/** Starts this peer in a child process and resolves once it listens. */
export async function spawnPeer(): Promise<PeerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the WebRTC peer exited (${code})`)));
    child.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(String(d)) as { port: number }).port));
  });
  const url = `http://127.0.0.1:${port}`;
  return { url, process: child, log: async (id) => (await (await fetch(`${url}/log?id=${id}`)).json()) as SessionLog };
}

const sessions = new Map<string, Session>();

function cors(res: ServerResponse): void {
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('access-control-allow-headers', '*');
  res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
}

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const id = url.searchParams.get('id') ?? '';
  cors(res);
  if (req.method === 'OPTIONS') return void res.writeHead(204).end();
  if (url.pathname === '/offer') {
    sessions.get(id)?.stop();
    const session = new Session(Number(url.searchParams.get('jitter') ?? 0), url.searchParams.get('channel') ?? undefined);
    sessions.set(id, session);
    const answer = await session.answer(await body(req));
    return void res.writeHead(200, { 'content-type': 'application/sdp' }).end(answer);
  }
  const session = sessions.get(id);
  if (!session) return void res.writeHead(404).end('no such session');
  if (url.pathname === '/log') {
    return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(session.log));
  }
  res.writeHead(404).end();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(error));
    });
  });
  server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
    const address = server.address();
    console.log(JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 }));
  });
}
