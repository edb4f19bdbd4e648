/**
 * The demo page: a voice agent as a web app builds it, measured with earshot. "Talk" streams a spoken
 * question to speech-to-text over a WebSocket, sends the transcript to an LLM over fetch/SSE, and
 * each sentence of the reply, as soon as it is complete, to text-to-speech over another WebSocket,
 * whose audio plays through earshot's jitter buffer. earshot wraps every stream; a manual turn from
 * the end of the user's speech to the first sound of the reply is the voice-to-voice latency.
 *
 * Each interaction runs inside an OpenTelemetry span of the app's own, so earshot's connection and
 * turn spans, and the agent's spans beneath them, share one trace (the page exports through the
 * provider it registered; `otel()` uses it).
 */
import { context, ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { adapters, createMonitor } from 'earshot';
import { createPlayer } from 'earshot/jitter-buffer';
import { otel } from 'earshot/otel';
import { BurnTracker, defineSlo, presets } from 'earshot/slo';
import { smoothText } from 'earshot/text';
import { bufferChart, itlChart } from './charts.js';
import { showTrace } from './trace.js';
import { CLIP_RATE, CONVERSATION, questionClip } from './voice/lines.ts';

const SERVICE = 'earshot-demo-page';
const MAX_ROWS = 24;
/** Interactions remembered for their rows' traces: more than the rows can show. */
const MAX_ACTIONS = 100;
const WS_PROTOCOL = location.protocol.replace(/^http/, 'ws');
/** The user's microphone, as the page streams it: 40 ms frames in real time. */
const FRAME_MS = 40;
const FRAME_SAMPLES = (CLIP_RATE * FRAME_MS) / 1000;
/** A voice turn's report waits at most 3 s for its audio; the interaction's span a little longer. */
const REPORT_WAIT_MS = 4000;
/** A reply has played out by its duration and this much more (start delay, stretching), or never will. */
const PLAYOUT_MARGIN_MS = 2000;
const CHAT_PROMPT = 'Why does streaming latency matter?';
/** The batch: voice and chat in turn, chats overlapping the conversation as a busy app's would. */
const BATCH = ['voice', 'chat', 'voice', 'chat', 'voice', 'chat'];

/**
 * The voice agent preset (TTFT, TTFA, RTF; 0.1% drops; 99% good) with bounds a cascade of
 * speech-to-text, LLM and text-to-speech meets when it is fast: the preset's 300 ms suits
 * speech-to-speech models, and its RTF of 0.5 a synthesiser that has the whole text, where this one
 * gets the reply sentence by sentence as the LLM writes it.
 */
const SLO = defineSlo({
  ...presets.voiceAgent,
  name: 'demo-voice-agent',
  description: 'first content within 500 ms, the reply heard within 500 ms, speech never behind real time (RTF 1)',
  ttftMs: 500,
  ttfaMs: 500,
  rtf: 1,
});

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

// ---------------------------------------------------------------------------------------------
// Telemetry: the app's tracer, earshot's sink on it, the monitor

const resource = { 'service.name': SERVICE, 'deployment.environment.name': 'demo' };
const provider = new WebTracerProvider({
  resource: resourceFromAttributes(resource),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${location.origin}/v1/traces` }), { scheduledDelayMillis: 250 })],
});
// Registers the context manager too: spans started inside `context.with` get the app's span as parent.
provider.register();
const tracer = provider.getTracer(SERVICE);

const telemetry = otel({
  serviceName: SERVICE,
  environment: 'demo',
  url: location.origin,
  // Each request message of a WebSocket turn carries its traceparent: the agent's span joins the turn's.
  messageField: 'traceparent',
  recordReasons: true,
  metricIntervalMs: 10_000,
  // SLO violations, drops and underruns as log records on their turn's trace (the trace view shows them).
  logs: true,
});
const monitor = createMonitor({
  slo: SLO,
  sink: telemetry,
  onTurn: addRow,
  onConnection: scheduleRender,
});
// For a look at everything earshot knows: `monitor.summary()` in the console.
globalThis.monitor = monitor;
// And what the telemetry could not deliver: `telemetry.dropped()`.
globalThis.telemetry = telemetry;
const burn = new BurnTracker(SLO.windows, SLO.objective, SLO.minEvents);

// ---------------------------------------------------------------------------------------------
// Interactions: one trace each

let actionSeq = 0;
let questionSeq = 0;
/** Interactions by id: their trace, conditions, and what to do once all their turns are reported. */
const actions = new Map();
/** Manual (voice) turns by turn id: the interaction they belong to. */
const manualTurns = new Map();
let inFlight = 0;

function startAction(kind) {
  const id = ++actionSeq;
  const profile = $('profile-select').value;
  const net = $('network-select').value;
  const span = tracer.startSpan(kind === 'voice' ? 'voice.interaction' : 'chat.request', {
    attributes: { 'earshot_demo.action': id, 'earshot_demo.profile': profile, 'earshot_demo.network': net },
  });
  const action = {
    id,
    profile,
    net,
    span,
    traceId: span.spanContext().traceId,
    ctx: trace.setSpan(ROOT_CONTEXT, span),
    /** The turn the interaction is about (its voice turn, or a chat's LLM turn), and its report. */
    mainTurn: undefined,
    reported: Promise.resolve(),
    onReported: undefined,
  };
  actions.set(id, action);
  if (actions.size > MAX_ACTIONS) actions.delete(actions.keys().next().value);
  inFlight++;
  scheduleRender();
  return action;
}

/** Runs `open` (which opens a connection or starts a turn) inside the interaction's span. */
const within = (action, open) => context.with(action.ctx, open);

/** A stream's URL: the agent's profile, the network to cross, and the interaction, which the page maps reports back to. */
function streamUrl(path, action, protocol = location.protocol) {
  const url = new URL(path, location.href);
  url.protocol = protocol;
  url.search = new URLSearchParams({ profile: action.profile, net: action.net, action: String(action.id) }).toString();
  return url.href;
}

/** Ends the interaction's span once its main turn is reported (a voice turn waits for its audio). */
async function finishAction(action, error) {
  if (error) action.span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  await Promise.race([action.reported, new Promise((resolve) => setTimeout(resolve, REPORT_WAIT_MS))]);
  action.span.end();
  inFlight--;
  scheduleRender();
  // Out now rather than at the next batch, so the trace view has it; an export that failed is the exporter's to retry.
  await provider.forceFlush().catch(() => undefined);
  if (!pinned) select(action.id, action.mainTurn);
}

/** The main turn's report resolves `action.reported`. */
function expectReport(action, turnId) {
  action.mainTurn = turnId;
  action.reported = new Promise((resolve) => (action.onReported = resolve));
}

// ---------------------------------------------------------------------------------------------
// The conversation panel: what the user sees and hears

let current;

class Conversation {
  constructor(action, label) {
    current = this;
    $('current-label').textContent = `${label} · ${action.profile} · net ${action.net}`;
    $('user-text').textContent = '';
    $('agent-text').textContent = '';
    this.status('…');
  }

  user(text) {
    if (this === current) $('user-text').textContent = text;
  }

  agent(text) {
    if (this === current) $('agent-text').append(text);
  }

  status(text) {
    if (this === current) $('current-status').textContent = text;
  }
}

// ---------------------------------------------------------------------------------------------
// Audio: the jitter-buffer player, and the turns waiting for their first sound

let audio;
/** The turns (TTS and voice) that take the heard time of the reply playing next. */
let heardBy = [];

function ensureAudio() {
  audio ??= (async () => {
    const ctx = new AudioContext();
    await ctx.resume();
    const player = await createPlayer(ctx, { sampleRate: CLIP_RATE, workletUrl: '/dist/jitter-buffer-worklet.js' });
    // Underruns become log records on the trace of the turn that was playing.
    telemetry.observePlayer(player);
    player.addEventListener('playing', (e) => {
      for (const turn of heardBy) turn.audioHeard(e.detail.time);
      heardBy = [];
    });
    buffer.follow(player);
    return player;
  })();
  return audio;
}

const clips = new Map();

/** A question as the microphone would give it: 16 kHz PCM16 samples. */
function questionAudio(index) {
  if (!clips.has(index)) {
    clips.set(
      index,
      fetch(`/voice/${questionClip(index)}`)
        .then((res) => res.arrayBuffer())
        .then(wavSamples),
    );
  }
  return clips.get(index);
}

/** The samples of a PCM16 WAV file's `data` chunk. */
function wavSamples(wav) {
  const view = new DataView(wav);
  for (let at = 12; at + 8 <= wav.byteLength; ) {
    const size = view.getUint32(at + 4, true);
    if (view.getUint32(at) === 0x64617461 /* data */) return new Int16Array(wav.slice(at + 8, at + 8 + size));
    at += 8 + size + (size & 1);
  }
  throw new Error('no audio in the clip');
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

// ---------------------------------------------------------------------------------------------
// The three services

const STT_ADAPTER = adapters.json({ request: ['start'], content: ['partial'], end: ['final'], error: ['error'] });
const ttsEvents = adapters.json({ request: ['speak'], end: ['done'], error: ['error'] });
const ttsAudio = adapters.pcm({ sampleRate: CLIP_RATE });
/** Text-to-speech: binary frames are audio, JSON frames are events; a `speak` starts the turn. */
const TTS_ADAPTER = {
  name: 'tts',
  received: (data, ctx) => (typeof data === 'string' ? ttsEvents.received(data, ctx) : ttsAudio.received(data, ctx)),
  sent: (data, ctx) => ttsEvents.sent(data, ctx),
};

/** Resolves once the socket is open; rejects with its close code if it closes first. */
function opened(ws) {
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(ws));
    ws.addEventListener('close', (e) => reject(new Error(`connection closed (${e.code})`)));
  });
}

/** Rejects when the socket closes, with the code and reason it closed with. */
function closeError(ws, what) {
  return new Promise((_, reject) =>
    ws.addEventListener('close', (e) => reject(new Error(`${what} connection closed (${e.code}${e.reason ? ` ${e.reason}` : ''})`))),
  );
}

/**
 * Speech-to-text: streams the samples in real time, shows the partial transcripts, and at the end of
 * speech calls `endOfSpeech()`; resolves with the final transcript.
 */
async function transcribe(action, samples, view, endOfSpeech) {
  const ws = within(action, () => monitor.websocket(streamUrl('/v1/stt', action, WS_PROTOCOL), undefined, { adapter: STT_ADAPTER }));
  const failed = closeError(ws, 'speech-to-text');
  const final = new Promise((resolve, reject) => {
    ws.addEventListener('message', (e) => {
      const event = JSON.parse(e.data);
      if (event.type === 'partial') view.user(`${event.text}…`);
      else if (event.type === 'final') resolve(event.text);
      else if (event.type === 'error') reject(new Error(event.message));
    });
  });
  // Settled early (an error or a close while the user still speaks), it is awaited after the speech.
  const result = Promise.race([final, failed]);
  result.catch(() => undefined);
  await Promise.race([opened(ws), failed]);
  view.status('listening…');
  ws.send(JSON.stringify({ type: 'start', sample_rate: CLIP_RATE }));
  // Paced against the clock, as a microphone delivers it.
  const start = performance.now();
  for (let i = 0, n = 0; i < samples.length && ws.readyState === WebSocket.OPEN; i += FRAME_SAMPLES, n++) {
    ws.send(samples.subarray(i, i + FRAME_SAMPLES));
    await sleep(start + (n + 1) * FRAME_MS - performance.now());
  }
  if (ws.readyState === WebSocket.OPEN) {
    endOfSpeech();
    ws.send(JSON.stringify({ type: 'finalize' }));
  }
  return result;
}

/** LLM: a chat completion over fetch/SSE; `onToken` gets each content delta. */
async function complete(action, prompt, onToken) {
  const body = JSON.stringify({
    model: 'earshot-demo',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: prompt }],
  });
  const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body };
  const response = await within(action, () => monitor.fetch(streamUrl('/v1/chat/completions', action), init, { adapter: adapters.sse() }));
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  let done = false;
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    buffered += decoder.decode(read.value, { stream: true });
    const events = buffered.split('\n\n');
    buffered = events.pop();
    for (const event of events) {
      const data = event.startsWith('data: ') ? event.slice(6) : '';
      if (data === '[DONE]') done = true;
      else if (data) {
        const delta = JSON.parse(data).choices[0]?.delta?.content;
        if (delta) onToken(delta);
      }
    }
  }
  if (!done) throw new Error('the reply stopped before [DONE]');
}

/**
 * Text-to-speech over a socket opened now (while the transcript is still being finalised): `say`
 * each sentence as it is complete, `finish` when the reply is; the audio goes to the player, and the
 * reply's first sound is credited to the TTS turn and to `voiceTurn`.
 */
function speaker(action, voiceTurn, view) {
  const ws = within(action, () => monitor.websocket(streamUrl('/v1/tts', action, WS_PROTOCOL), undefined, { adapter: TTS_ADAPTER }));
  ws.binaryType = 'arraybuffer';
  const failed = closeError(ws, 'text-to-speech');
  let queue = Promise.race([opened(ws), failed]);
  let sentences = 0;
  /** Resolves with the reply's duration, ms. */
  const done = new Promise((resolve, reject) => {
    let first = true;
    ws.addEventListener('message', async (e) => {
      if (typeof e.data !== 'string') {
        buffer.wake();
        if (first) {
          first = false;
          // The turn that delivered this frame: the TTS turn. Both it and the voice turn wait for the heard time.
          heardBy = [monitor.activeTurn(), voiceTurn].filter(Boolean);
          for (const turn of heardBy) turn.awaitAudio();
          view.status('speaking…');
        }
        (await audio).push(new Int16Array(e.data));
        return;
      }
      const event = JSON.parse(e.data);
      if (event.type === 'done') resolve(event.audio_ms);
      else if (event.type === 'error') reject(new Error(event.message));
    });
  });
  done.catch(() => undefined);
  const send = (message) => (queue = queue.then(() => ws.send(JSON.stringify(message))));
  return {
    say: (text) => send(sentences++ ? { type: 'text', text } : { type: 'speak', text }),
    /** The reply is complete: resolves once its audio is all in, with a promise of its end of playout. */
    async finish() {
      send({ type: 'flush' });
      const audioMs = await Promise.race([queue.then(() => done), failed]);
      const player = await audio;
      const playedOut = new Promise((resolve) => {
        const played = () => {
          clearTimeout(timer);
          player.removeEventListener('stats', played);
          resolve();
        };
        // A reply with no audio plays nothing out.
        const timer = setTimeout(played, audioMs + PLAYOUT_MARGIN_MS);
        player.addEventListener('stats', played);
      });
      player.end();
      return { playedOut };
    },
    /** The interaction failed: stop the reply, in the socket and in the player. */
    abort() {
      queue.catch(() => undefined);
      if (ws.readyState <= WebSocket.OPEN) ws.close();
      audio.then((player) => player.flush());
    },
  };
}

/** Splits a streamed reply into sentences, each handed to `onSentence` as soon as it ends. */
function sentenceSplitter(onSentence) {
  let pending = '';
  return {
    push(token) {
      pending += token;
      if (/[.!?]$/.test(pending)) {
        onSentence(pending.trim());
        pending = '';
      }
    },
    end() {
      if (pending.trim()) onSentence(pending.trim());
      pending = '';
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The two interactions

/** One spoken exchange: question → speech-to-text → LLM → text-to-speech → the reply heard. */
async function voiceInteraction() {
  // The microphone and the speaker are ready before the user speaks: not part of the interaction.
  let samples;
  try {
    [samples] = await Promise.all([questionAudio(questionSeq++ % CONVERSATION.length), ensureAudio()]);
  } catch (error) {
    $('current-status').textContent = `no audio: ${error.message}`;
    return;
  }
  const action = startAction('voice');
  const view = new Conversation(action, 'Voice');
  let voiceTurn;
  let tts;
  let playedOut;
  let failure;
  try {
    const transcript = await transcribe(action, samples, view, () => {
      // The end of the user's speech: t0 of the voice turn, whose TTFA is the voice-to-voice latency.
      voiceTurn = within(action, () => monitor.turn().start());
      manualTurns.set(voiceTurn.id, action.id);
      if (manualTurns.size > MAX_ACTIONS) manualTurns.delete(manualTurns.keys().next().value);
      expectReport(action, voiceTurn.id);
      tts = speaker(action, voiceTurn, view);
    });
    view.user(transcript);
    view.status('thinking…');
    const text = smoothText((t) => view.agent(t), { onFirstDisplay: (at) => voiceTurn.displayed(at) });
    const sentences = sentenceSplitter((sentence) => tts.say(sentence));
    await complete(action, transcript, (token) => {
      voiceTurn.content(1);
      text.push(token);
      sentences.push(token);
    });
    text.end();
    sentences.end();
    ({ playedOut } = await tts.finish());
    voiceTurn.end();
  } catch (error) {
    failure = error;
    tts?.abort();
    voiceTurn?.fail(error);
    view.status(`failed: ${error.message}`);
  }
  await finishAction(action, failure);
  if (failure) return;
  // The user speaks again once the agent is done speaking.
  await playedOut;
  view.status('complete');
}

/** A text chat: one completion over fetch/SSE. */
async function chatInteraction() {
  const action = startAction('chat');
  // The chat's only turn: its report ends the interaction.
  expectReport(action, undefined);
  const view = new Conversation(action, 'Chat');
  view.user(CHAT_PROMPT);
  view.status('streaming…');
  const text = smoothText((t) => view.agent(t));
  let failure;
  try {
    await complete(action, CHAT_PROMPT, (token) => text.push(token));
    text.end();
    view.status('complete');
  } catch (error) {
    failure = error;
    view.status(`failed: ${error.message}`);
  }
  await finishAction(action, failure);
}

/** Voice interactions take turns, as one conversation does; chats run whenever they are asked for. */
let conversation = Promise.resolve();
const talk = () => (conversation = conversation.then(voiceInteraction));

async function batch() {
  const runs = BATCH.map((kind) => (kind === 'voice' ? talk() : chatInteraction()));
  await Promise.all(runs);
}

$('run-voice').addEventListener('click', () => talk());
$('run-chat').addEventListener('click', () => chatInteraction());
$('run-batch').addEventListener('click', () => batch());

// ---------------------------------------------------------------------------------------------
// What earshot reports: a row per turn, aggregates over all of them

const ms = (v) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const percent = (v) => `${(v * 100).toFixed(1)}%`;
const SERVICES = { '/v1/stt': 'STT', '/v1/tts': 'TTS', '/v1/chat/completions': 'LLM' };
const TRANSPORTS = { websocket: 'WebSocket', fetch: 'fetch/SSE', manual: 'manual' };
/** Each criterion: its name on the page, the turn's value, its unit. */
const CRITERIA = {
  ttftMs: ['TTFT', (t) => t.ttftMs, ' ms'],
  ttfaMs: ['TTFA', (t) => t.ttfaMs, ' ms'],
  tpotMs: ['TPOT', (t) => t.tpotMs, ' ms'],
  e2eMs: ['E2E', (t) => t.e2eMs, ' ms'],
  maxGapMs: ['max gap', (t) => t.itl.max, ' ms'],
  rtf: ['RTF', (t) => t.rtf, ''],
};
/** The bounds the SLO sets, as the note under the table states them. */
const bounds = () =>
  Object.entries(CRITERIA)
    .filter(([c]) => SLO[c] !== undefined)
    .map(([c, [name, , unit]]) => `${name} ≤ ${SLO[c]}${unit}`)
    .join(', ');

/** Why a turn failed its SLO, criterion by criterion, with the value against the bound. */
function why(turn) {
  return turn.slo.failed
    .map((c) => {
      if (c === 'outcome') return turn.outcome;
      const criterion = CRITERIA[c];
      if (!criterion) return c;
      const [name, value, unit] = criterion;
      const v = value(turn);
      // No value at all: nothing arrived (TTFT), or nothing was heard (TTFA).
      return Number.isFinite(v) ? `${name} ${unit ? v.toFixed(0) : v.toFixed(2)} > ${SLO[c]}${unit}` : `no ${name}`;
    })
    .join(', ');
}

function cell(row, testid, text, className = '', title = '') {
  const td = row.insertCell();
  td.dataset.testid = testid;
  td.textContent = text;
  if (className) td.className = className;
  if (title) td.title = title;
}

let turnSeq = 0;

function addRow(turn) {
  // A stream's URL names its interaction; a voice turn has no stream of its own.
  const url = turn.url && new URL(turn.url, location.href);
  const actionId = url ? Number(url.searchParams.get('action')) : manualTurns.get(turn.id);
  const action = actions.get(actionId);
  const kind = url ? (SERVICES[url.pathname] ?? '?') : 'Voice';
  if (turn.outcome !== 'abandoned') burn.record(turn.slo.good, performance.now());
  const row = document.createElement('tr');
  row.dataset.testid = 'turn-row';
  row.dataset.action = String(actionId);
  row.dataset.turn = turn.id;
  const gaps = turn.itl.count > 0;
  cell(row, 'kind', kind);
  cell(row, 'transport', TRANSPORTS[turn.transport] ?? turn.transport);
  cell(row, 'conditions', action ? `${action.profile} · ${action.net}` : '–', 'conditions');
  cell(row, 'ttfb', ms(turn.ttfbMs));
  cell(row, 'ttft', ms(turn.ttftMs));
  cell(row, 'tpot', ms(turn.tpotMs), turn.tokensEstimated ? 'est' : '', turn.tokensEstimated ? 'tokens counted by the client' : '');
  cell(row, 'itl-p95', gaps ? ms(turn.itl.p95) : '–');
  cell(row, 'jitter', gaps ? ms(turn.itl.stddev) : '–', '', gaps ? `max gap ${ms(turn.itl.max)} ms, ${turn.itl.stalls} stalls` : '');
  cell(row, 'ttfa', kind === 'Voice' ? '–' : ms(turn.ttfaMs));
  cell(row, 'v2v', kind === 'Voice' ? ms(turn.ttfaMs) : '–');
  cell(row, 'outcome', turn.outcome, turn.outcome, turn.reason ?? '');
  if (turn.slo.good) cell(row, 'slo', 'pass', 'pass');
  else cell(row, 'slo', `fail: ${why(turn)}`, 'fail');
  row.addEventListener('click', () => {
    pinned = true;
    select(actionId, turn.id);
  });
  const rows = $('turns');
  rows.prepend(row);
  while (rows.rows.length > MAX_ROWS) rows.lastElementChild.remove();
  itl.add(++turnSeq, turn.itl);
  if (action && (action.mainTurn === turn.id || (action.mainTurn === undefined && kind === 'LLM'))) {
    action.mainTurn = turn.id;
    action.onReported?.();
  }
  markSelected();
  scheduleRender();
}

let renderQueued = false;
/** Coalesces the updates of one frame (turn and connection ends) into one summary. */
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(render);
}

const duration = (ms) => (ms >= 86_400_000 ? `${ms / 86_400_000}d` : ms >= 3_600_000 ? `${ms / 3_600_000}h` : `${ms / 60_000}m`);

function render() {
  renderQueued = false;
  const s = monitor.summary();
  const t = s.turns;
  const c = s.connections;
  const open = t.open ? ` · ${t.open} open` : '';
  $('agg-turns').textContent = `${t.complete} complete · ${t.error} error · ${t.dropped} dropped · ${t.abandoned} abandoned${open}`;
  $('agg-goodput').textContent = s.goodput === undefined ? '–' : `${percent(s.goodput)} (${t.good} of ${t.valid} good)`;
  $('agg-drop-rate').textContent =
    s.dropRate === undefined ? '–' : `${percent(s.dropRate)} (${c.dropped} of ${c.dropped + c.clean} connections; bound ${percent(SLO.dropRate)})`;
  $('agg-connections').textContent = `${c.active} active · ${c.peak} peak · ${c.opened} opened`;
  $('agg-ttft').textContent = s.ttft.count ? `${ms(s.ttft.p50)} / ${ms(s.ttft.p95)} / ${ms(s.ttft.p99)}` : '–';
  $('agg-ttfa').textContent = s.ttfa.count ? `${ms(s.ttfa.p50)} / ${ms(s.ttfa.p95)}` : '–';
  $('agg-itl-p95').textContent = s.itl.count ? ms(s.itl.p95) : '–';
  $('agg-budget').textContent =
    s.budgetRemaining === undefined ? '–' : `${percent(s.budgetRemaining)} of the budget (${percent(1 - s.objective)} of turns may be bad)`;
  $('agg-budget-spent').textContent = s.budgetSpent
    ? Object.entries(s.budgetSpent)
        .filter(([, share]) => share > 0)
        .map(([category, share]) => `${category} ${percent(share)}`)
        .join(' · ') || 'nothing yet'
    : '–';
  const now = performance.now();
  $('agg-burn').textContent = t.valid
    ? burn
        .report(now)
        .map((w) => `${duration(w.longMs)}/${duration(w.shortMs)} ${w.longBurn.toFixed(1)}×/${w.shortBurn.toFixed(1)}×${w.firing ? ' FIRING' : ''} (alert ≥ ${w.factor}×)`)
        .join(' · ')
    : '–';
  $('in-flight').textContent = `${inFlight} in flight`;
}

$('slo-note').textContent =
  `SLO "${SLO.name}": ${bounds()}; a turn is good when it completes and meets every bound (TTFA on turns that carried or played audio, ` +
  'RTF on turns that carried audio). Voice-to-voice: from the end of the user\'s speech to the first sound of the reply. ' +
  'Click a row for its trace; everything earshot knows: monitor.summary() in the browser console.';

// ---------------------------------------------------------------------------------------------
// Charts and the trace of the selected turn

const buffer = bufferChart($('chart-buffer'));
const itl = itlChart($('chart-itl'));

/** The user clicked a row: new turns no longer move the selection. */
let pinned = false;
let selected;

function select(actionId, turnId) {
  const action = actions.get(actionId);
  if (!action) return;
  selected = { actionId, turnId };
  markSelected();
  showTrace({ title: $('trace-title'), link: $('trace-link'), spans: $('trace-spans') }, action.traceId, turnId);
}

function markSelected() {
  for (const row of $('turns').rows) {
    row.classList.toggle('selected', !!selected && row.dataset.turn === selected.turnId && row.dataset.action === String(selected.actionId));
  }
}

render();
