/**
 * The demo's voice agent: three streaming services, each under a latency profile, each traced with
 * the OpenTelemetry Node SDK as a child of the browser's turn that called it (`earshot/server` reads
 * the trace context from whichever carrier the transport allows).
 *
 *   WS   /v1/stt                streaming speech-to-text. The page sends `{"type":"start"}` (with
 *                               its `traceparent`), 16 kHz PCM16 frames as the user speaks, then
 *                               `{"type":"finalize"}` at the end of speech; the server answers
 *                               `{"type":"partial","text"}` as it recognises words, then
 *                               `{"type":"final","text"}`, and closes (1000). Span `stt`.
 *   POST /v1/chat/completions   OpenAI chat completions streamed as Server-Sent Events; a spoken
 *                               question gets its short spoken answer, anything else a paragraph.
 *                               `Server-Timing` names the span and the server's time to first token.
 *                               Span `llm.generate`.
 *   WS   /v1/tts                streaming text-to-speech. The page sends `{"type":"speak","text"}`
 *                               (with its `traceparent`), more sentences as `{"type":"text","text"}`
 *                               and `{"type":"flush"}` when the reply is complete; the server answers
 *                               binary 16 kHz PCM16 frames of a real voice, `{"type":"done"}`, and
 *                               closes (1000). Span `tts.synthesize`.
 *
 * The profile comes from `?profile=` (default realistic):
 *   fast        first partial / token / audio within tens of ms, speech synthesised at 0.15x real time
 *   realistic   service latency with a log-normal spread, stalls now and then, synthesis at ~0.7x
 *   overloaded  queues of a second or more, recognition and synthesis slower than real time (RTF > 1)
 *   flaky       as realistic, but about a third of the streams drop midway (TCP reset, close 1011,
 *               a connection lost without a closing handshake)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SpanKind, SpanStatusCode, type Context, type Span, type Tracer } from '@opentelemetry/api';
import type { RawData, WebSocket } from 'ws';
import { appendServerTiming, contextFromHeaders, contextFromMessage, serverTiming } from '../src/server';
import { answerClip, CLIP_RATE, CONVERSATION, questionClip } from './voice/lines';

const VOICE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'voice');
const MODEL = 'earshot-demo';
const MAX_BODY_BYTES = 64 * 1024;
/** PCM16 mono at the clips' rate. */
const BYTES_PER_MS = (CLIP_RATE * 2) / 1000;
/** Audio goes out in 40 ms frames, as streaming speech services send it; each takes `rtf` times as long to make. */
const FRAME_MS = 40;
const FRAME_BYTES = FRAME_MS * BYTES_PER_MS;

// ---------------------------------------------------------------------------------------------
// Latency profiles

const PROFILE_NAMES = ['fast', 'realistic', 'overloaded', 'flaky'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

interface Profile {
  /** Recognition lag: from the end of a word in the audio received to its partial transcript, ms. */
  sttLag(audioMs: number): number;
  /** From the end of speech to the final transcript, ms. */
  sttFinal(): number;
  /** Delay before the first token, ms. */
  ttft(): number;
  /** Delay before each later token, ms. */
  gap(): number;
  /** Delay before the first audio of a reply, ms. */
  ttfb(): number;
  /** Real-time factor of synthesis: time to make a frame / its duration. */
  rtf(): number;
  /** Probability that a stream drops midway. */
  drop: number;
}

const uniform = (lo: number, hi: number): number => lo + Math.random() * (hi - lo);

/** Right-skewed like real service latency: log-normal with this median and log-spread. */
function logNormal(median: number, sigma: number): number {
  const z = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
  return median * Math.exp(sigma * z);
}

const realistic: Profile = {
  sttLag: () => logNormal(120, 0.3),
  sttFinal: () => logNormal(150, 0.3),
  ttft: () => logNormal(330, 0.25),
  // About one token in thirty stalls, as a busy server's batch scheduler makes it.
  gap: () => (Math.random() < 1 / 30 ? uniform(150, 400) : logNormal(28, 0.3)),
  ttfb: () => logNormal(150, 0.3),
  rtf: () => logNormal(0.7, 0.15),
  drop: 0,
};

const PROFILES: Record<ProfileName, Profile> = {
  fast: {
    sttLag: () => uniform(20, 40),
    sttFinal: () => uniform(30, 50),
    ttft: () => uniform(60, 90),
    gap: () => uniform(8, 14),
    ttfb: () => uniform(40, 60),
    rtf: () => 0.15,
    drop: 0,
  },
  realistic,
  overloaded: {
    // Recognition runs at 1.35x real time: each word lags further behind than the one before.
    sttLag: (audioMs) => 150 + 0.35 * audioMs,
    sttFinal: () => uniform(500, 900),
    ttft: () => uniform(1000, 2000),
    gap: () => uniform(72, 88),
    ttfb: () => uniform(500, 900),
    rtf: () => uniform(1.2, 1.35),
    drop: 0,
  },
  flaky: { ...realistic, drop: 0.3 },
};

export function profileOf(url: URL): ProfileName | undefined {
  const name = url.searchParams.get('profile') ?? 'realistic';
  return (PROFILE_NAMES as readonly string[]).includes(name) ? (name as ProfileName) : undefined;
}

export const unknownProfile = (url: URL): string =>
  `unknown profile "${url.searchParams.get('profile')}": use one of ${PROFILE_NAMES.join(', ')}`;

// ---------------------------------------------------------------------------------------------
// The voice: clips made by demo/voice/generate.ts

interface Clip {
  text: string;
  /** PCM16 mono at CLIP_RATE. */
  pcm: Buffer;
  ms: number;
  /** When each word ends in the clip, ms: by its share of the letters, a fair guess for synthesised speech. */
  wordEnds: number[];
}

/** The samples of a WAV file's `data` chunk. */
function readWav(file: string): Buffer {
  const wav = readFileSync(join(VOICE_DIR, file));
  for (let at = 12; at + 8 <= wav.length; ) {
    const size = wav.readUInt32LE(at + 4);
    if (wav.toString('latin1', at, at + 4) === 'data') return wav.subarray(at + 8, at + 8 + size);
    at += 8 + size + (size & 1);
  }
  throw new Error(`${file} has no audio`);
}

/** Letters and digits, lowercase, single-spaced: how a sentence is looked up whatever its punctuation. */
const normalize = (text: string): string => text.toLowerCase().replace(/[^a-z0-9' ]+/g, ' ').replace(/\s+/g, ' ').trim();

function loadClip(text: string, file: string): Clip {
  const pcm = readWav(file);
  const ms = pcm.length / BYTES_PER_MS;
  const words = text.split(' ');
  const letters = words.reduce((n, w) => n + w.length, 0);
  let seen = 0;
  const wordEnds = words.map((w) => ((seen += w.length) / letters) * ms);
  return { text, pcm, ms, wordEnds };
}

const QUESTIONS = CONVERSATION.map(({ question }, i) => loadClip(question, questionClip(i)));
const SENTENCES = new Map(
  CONVERSATION.flatMap(({ answer }, i) => answer.map((sentence, s) => [normalize(sentence), loadClip(sentence, answerClip(i, s))] as const)),
);
/** Spoken questions and their answers, by normalised question. */
const SPOKEN_ANSWERS = new Map(CONVERSATION.map(({ question, answer }) => [normalize(question), answer.join(' ')]));

/** Replies to anything else: a paragraph, as a chat model gives. */
const PARAGRAPHS = [
  'Streaming latency is what the user feels between asking and seeing the first word. Time to first token sets that impression, and the steadiness of every token after it decides whether the reply reads smoothly or stutters.',
  'A fast model can still feel slow. If tokens arrive in bursts with long pauses between them, readers lose their place, and listeners hear gaps in the voice. Jitter matters as much as the average speed.',
  'Measure in the browser, not only on the server. Queues, proxies, TLS, the network and the main thread all add delay that server metrics never see, and only the client knows when a token was really shown.',
  'Goodput counts the turns that finished and met every latency objective. A service can answer every request and still fail its users when too many replies start late or crawl along token by token.',
  'Dropped streams hurt more than slow ones. When a connection resets halfway through an answer, the user has read half a thought and must ask again, so drops belong on the same dashboard as latency.',
  'For voice, the moment that counts is the first audible sound of the reply. Network jitter is absorbed by a playout buffer, which trades a little extra delay for speech without clicks or silent gaps.',
];

/** A reply's words, each with its leading space, as a tokenizer would split them. */
const tokenize = (text: string): string[] => text.split(' ').map((word, i) => (i ? ' ' + word : word));

/** Where a drop lands: somewhere in the middle of `n` steps, or -1 when this stream does not drop. */
const dropPoint = (profile: Profile, n: number): number =>
  Math.random() < profile.drop ? Math.floor(uniform(0.25, 0.75) * n) : -1;

// ---------------------------------------------------------------------------------------------
// Tracing

function fail(span: Span, message: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}

/** Timers of one stream, cleared together when it ends or its connection closes. */
class Timers {
  readonly #pending = new Set<NodeJS.Timeout>();

  after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.#pending.delete(timer);
      run();
    }, ms);
    this.#pending.add(timer);
  }

  clear(): void {
    for (const timer of this.#pending) clearTimeout(timer);
    this.#pending.clear();
  }
}

function parseMessage(data: RawData): { type?: unknown; text?: unknown } | undefined {
  try {
    const message: unknown = JSON.parse(data.toString());
    return typeof message === 'object' && message !== null ? message : undefined;
  } catch {
    return undefined;
  }
}

export interface Agent {
  chat(req: IncomingMessage, res: ServerResponse, profile: ProfileName): void;
  stt(ws: WebSocket, profile: ProfileName): void;
  tts(ws: WebSocket, profile: ProfileName): void;
}

export function createAgent(tracer: Tracer): Agent {
  const serverSpan = (name: string, parent: Context, profile: ProfileName) =>
    tracer.startSpan(name, { kind: SpanKind.SERVER, attributes: { 'earshot_demo.profile': profile } }, parent);
  return {
    chat: (req, res, profile) => void chat(req, res, profile, serverSpan),
    stt: (ws, profile) => stt(ws, profile, serverSpan),
    tts: (ws, profile) => tts(ws, profile, serverSpan),
  };
}

type SpanFactory = (name: string, parent: Context, profile: ProfileName) => Span;

// ---------------------------------------------------------------------------------------------
// POST /v1/chat/completions

interface ChatRequest {
  stream_options?: { include_usage?: unknown };
  messages?: Array<{ role?: unknown; content?: unknown }>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
      if (body.length > MAX_BODY_BYTES) reject(new Error('request body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function chat(req: IncomingMessage, res: ServerResponse, profileName: ProfileName, startSpan: SpanFactory): Promise<void> {
  let request: ChatRequest;
  try {
    const body = await readBody(req);
    request = (body ? JSON.parse(body) : {}) as ChatRequest;
    if (typeof request !== 'object' || request === null) throw new Error('the body must be a JSON object');
  } catch (error) {
    return sendJson(res, 400, { error: { message: `invalid request: ${(error as Error).message}`, type: 'invalid_request_error' } });
  }
  const profile = PROFILES[profileName];
  const span = startSpan('llm.generate', contextFromHeaders(req.headers), profileName);
  const messages = Array.isArray(request.messages) ? request.messages : [];
  const prompt = String(messages.at(-1)?.content ?? '');
  const tokens = tokenize(SPOKEN_ANSWERS.get(normalize(prompt)) ?? PARAGRAPHS[Math.floor(Math.random() * PARAGRAPHS.length)]);
  const id = `chatcmpl-${Math.random().toString(36).slice(2, 14)}`;
  const inputTokens = JSON.stringify(messages).length >> 2;
  span.setAttributes({
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': MODEL,
    'gen_ai.response.id': id,
    'gen_ai.usage.input_tokens': inputTokens,
  });

  const created = Math.floor(Date.now() / 1000);
  const event = (choices: unknown[], usage?: unknown) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: MODEL, choices, ...(usage ? { usage } : {}) })}\n\n`;
  const choice = (delta: object, finish: string | null) => ({ index: 0, delta, logprobs: null, finish_reason: finish });
  // The scheduler knows when the prompt's prefill will be done: the server's share of TTFT, told in
  // Server-Timing so the page can split its TTFT into network and server time.
  const ttft = profile.ttft();
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
    'server-timing': appendServerTiming(serverTiming(span), 'ttft', ttft, 'time to first token on the server'),
  });
  // Headers now, content later: the page sees its first byte well before its first token.
  res.flushHeaders();

  const dropAt = dropPoint(profile, tokens.length);
  const timers = new Timers();
  let i = 0;
  const next = () => {
    if (i === dropAt) {
      res.socket?.resetAndDestroy();
      return fail(span, 'connection reset mid-reply');
    }
    if (i === tokens.length) {
      res.write(event([choice({}, 'stop')]));
      if (request.stream_options?.include_usage === true) {
        res.write(event([], { prompt_tokens: inputTokens, completion_tokens: i, total_tokens: inputTokens + i }));
      }
      res.end('data: [DONE]\n\n');
      span.setAttributes({ 'gen_ai.usage.output_tokens': i, 'gen_ai.response.finish_reasons': ['stop'] });
      return span.end();
    }
    if (i === 0) {
      span.addEvent('gen_ai.first_token');
      res.write(event([choice({ role: 'assistant', content: '', refusal: null }, null)]));
    }
    res.write(event([choice({ content: tokens[i] }, null)]));
    i++;
    timers.after(profile.gap(), next);
  };
  timers.after(ttft, next);
  res.on('close', () => {
    if (res.writableFinished || i === dropAt) return;
    timers.clear();
    fail(span, 'the client went away');
  });
}

// ---------------------------------------------------------------------------------------------
// WS /v1/stt

function stt(ws: WebSocket, profileName: ProfileName, startSpan: SpanFactory): void {
  const profile = PROFILES[profileName];
  const timers = new Timers();
  const send = (message: object) => ws.send(JSON.stringify(message));
  let utterance:
    | {
        span: Span;
        clip?: Clip;
        head: Buffer;
        audioMs: number;
        recognised: number;
        dueAt: number;
        dropAtMs: number;
        partials: number;
        finalizing: boolean;
      }
    | undefined;

  /** Sends `message` after `delayMs`, never before what was scheduled ahead of it. */
  const inOrder = (delayMs: number, run: () => void) => {
    const u = utterance!;
    u.dueAt = Math.max(u.dueAt, performance.now() + delayMs);
    timers.after(u.dueAt - performance.now(), run);
  };
  const transcript = (clip: Clip | undefined, words: number) => (clip ? clip.text.split(' ').slice(0, words).join(' ') : '');

  const audio = (frame: Buffer) => {
    const u = utterance;
    if (!u) return;
    u.audioMs += frame.length / BYTES_PER_MS;
    // The recogniser knows the questions' voices: it names the clip from its first samples.
    if (!u.clip && u.head.length < FRAME_BYTES) {
      u.head = Buffer.concat([u.head, frame]);
      if (u.head.length >= FRAME_BYTES) u.clip = QUESTIONS.find((q) => q.pcm.subarray(0, FRAME_BYTES).equals(u.head.subarray(0, FRAME_BYTES)));
    }
    if (u.dropAtMs >= 0 && u.audioMs >= u.dropAtMs) {
      timers.clear();
      utterance = undefined;
      ws.close(1011, 'recogniser failed');
      return fail(u.span, 'recogniser failed mid-utterance');
    }
    const ends = u.clip?.wordEnds ?? [];
    let words = u.recognised;
    while (words < ends.length && ends[words] <= u.audioMs) words++;
    if (words === u.recognised) return;
    u.recognised = words;
    const text = transcript(u.clip, words);
    inOrder(profile.sttLag(u.audioMs), () => {
      if (u.partials++ === 0) u.span.addEvent('stt.first_partial');
      send({ type: 'partial', text });
    });
  };

  ws.on('message', (data: RawData, binary: boolean) => {
    if (binary) return audio(data as Buffer);
    const message = parseMessage(data);
    if (message?.type === 'start' && !utterance) {
      const span = startSpan('stt', contextFromMessage(message), profileName);
      span.setAttribute('earshot_demo.model', `${MODEL}-stt`);
      // A drop lands somewhere in the first second and a half of speech.
      const dropAtMs = Math.random() < profile.drop ? uniform(300, 1500) : -1;
      utterance = { span, head: Buffer.alloc(0), audioMs: 0, recognised: 0, dueAt: 0, dropAtMs, partials: 0, finalizing: false };
    } else if (message?.type === 'finalize' && utterance && !utterance.finalizing) {
      const u = utterance;
      u.finalizing = true;
      u.span.addEvent('stt.end_of_speech');
      inOrder(profile.sttFinal(), () => {
        const words = u.clip && u.audioMs >= u.clip.ms ? u.clip.wordEnds.length : u.recognised;
        send({ type: 'final', text: transcript(u.clip, words) });
        u.span.setAttributes({ 'stt.audio_ms': u.audioMs, 'stt.words': words, 'stt.partials': u.partials });
        u.span.end();
        utterance = undefined;
        ws.close(1000, 'done');
      });
    } else {
      send({ type: 'error', message: 'expected {"type":"start"}, audio frames, then {"type":"finalize"}' });
    }
  });
  ws.on('close', () => {
    timers.clear();
    if (utterance) fail(utterance.span, 'the client went away');
  });
}

// ---------------------------------------------------------------------------------------------
// WS /v1/tts

function tts(ws: WebSocket, profileName: ProfileName, startSpan: SpanFactory): void {
  const profile = PROFILES[profileName];
  const timers = new Timers();
  let reply:
    | { span: Span; queue: string[]; flushed: boolean; speaking: boolean; frames: number; dropAt: number; unvoiced: number }
    | undefined;

  /** Synthesises the next queued sentence, or ends the reply once it is complete. */
  const pump = () => {
    const r = reply;
    if (!r || r.speaking) return;
    const text = r.queue.shift();
    if (text === undefined) {
      if (!r.flushed) return;
      ws.send(JSON.stringify({ type: 'done', audio_ms: (r.frames * FRAME_BYTES) / BYTES_PER_MS }));
      r.span.setAttributes({ 'tts.audio_ms': (r.frames * FRAME_BYTES) / BYTES_PER_MS, 'tts.unvoiced_sentences': r.unvoiced });
      r.span.end();
      reply = undefined;
      return ws.close(1000, 'done');
    }
    const clip = SENTENCES.get(normalize(text));
    if (!clip) {
      r.unvoiced++;
      return pump();
    }
    r.speaking = true;
    let at = 0;
    const frame = () => {
      if (r.frames === r.dropAt) {
        timers.clear();
        reply = undefined;
        // The connection goes without a closing handshake, as when a synthesiser's host dies.
        ws.terminate();
        return fail(r.span, 'synthesiser connection lost mid-reply');
      }
      if (r.frames++ === 0) r.span.addEvent('tts.first_audio');
      ws.send(clip.pcm.subarray(at, (at += FRAME_BYTES)));
      if (at < clip.pcm.length) {
        // Each frame on its schedule from the sentence's start: a timer that fires late does not slow the rest.
        due += FRAME_MS * profile.rtf();
        return timers.after(due - performance.now(), frame);
      }
      r.speaking = false;
      pump();
    };
    // The first sentence waits for the model to load the voice; later ones only for their text.
    let due = performance.now() + (r.frames === 0 ? profile.ttfb() : profile.ttfb() / 4);
    timers.after(due - performance.now(), frame);
  };

  ws.on('message', (data: RawData, binary: boolean) => {
    const message = binary ? undefined : parseMessage(data);
    const text = typeof message?.text === 'string' ? message.text : undefined;
    if (message?.type === 'speak' && text !== undefined && !reply) {
      const span = startSpan('tts.synthesize', contextFromMessage(message), profileName);
      span.setAttribute('earshot_demo.model', `${MODEL}-tts`);
      // About 2 s of speech per reply, 40 ms a frame.
      reply = { span, queue: [text], flushed: false, speaking: false, frames: 0, dropAt: dropPoint(profile, 50), unvoiced: 0 };
    } else if (message?.type === 'text' && text !== undefined && reply) {
      reply.queue.push(text);
    } else if (message?.type === 'flush' && reply) {
      reply.flushed = true;
    } else {
      return ws.send(JSON.stringify({ type: 'error', message: 'expected {"type":"speak","text"}, {"type":"text","text"} or {"type":"flush"}' }));
    }
    pump();
  });
  ws.on('close', () => {
    timers.clear();
    if (reply) fail(reply.span, 'the client went away');
  });
}
