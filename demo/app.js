/**
 * The demo page. Each button starts a turn against the demo server and reads the reply the way an
 * app would; earshot observes the transports and the page shows what it reports, turn by turn and
 * in aggregate. Plain browser ESM on the SDK's build: no bundler needed.
 */
import { adapters, createMonitor } from '/dist/earshot.js';

const MAX_ROWS = 15;
const BATCH_TURNS = 10;
/** Turns of a batch start this far apart, so chat streams overlap as a busy app's would. */
const BATCH_STAGGER_MS = 150;
const PROMPT = 'Why does streaming latency matter?';
/** Base64 PCM16 at 24 kHz (the Realtime API's default): 48 bytes per ms. */
const PCM16_BYTES_PER_MS = 48;

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

const monitor = createMonitor({
  slo: { ttftMs: 300, tpotMs: 40 },
  onTurn: addRow,
  onConnection: scheduleRender,
});
// For a look at everything earshot knows: `monitor.summary()` in the console.
globalThis.monitor = monitor;

// ---------------------------------------------------------------------------------------------
// Formatting

const ms = (v) => (Number.isFinite(v) ? v.toFixed(1) : '–');
const percent = (v) => `${(v * 100).toFixed(1)}%`;
const transportName = (t) => (t === 'fetch' ? 'fetch/SSE' : t === 'websocket' ? 'WebSocket' : t);
/** `ttftMs` -> `TTFT`; `outcome` stays as it is. */
const criterionName = (c) => (c.endsWith('Ms') ? c.slice(0, -2).toUpperCase() : c);
const profileOf = (url) => (url && new URL(url, location.href).searchParams.get('profile')) || '–';

// ---------------------------------------------------------------------------------------------
// What earshot reports: one row per finished turn, aggregates over all of them

function cell(row, testid, text, className = '', title = '') {
  const td = row.insertCell();
  td.dataset.testid = testid;
  td.textContent = text;
  if (className) td.className = className;
  if (title) td.title = title;
}

function addRow(turn) {
  const row = document.createElement('tr');
  row.dataset.testid = 'turn-row';
  const gaps = turn.itl.count > 0;
  cell(row, 'transport', transportName(turn.transport));
  cell(row, 'profile', profileOf(turn.url), 'profile');
  cell(row, 'ttfb', ms(turn.ttfbMs));
  cell(row, 'ttft', ms(turn.ttftMs));
  cell(row, 'tpot', ms(turn.tpotMs));
  cell(row, 'itl-p95', gaps ? ms(turn.itl.p95) : '–');
  cell(row, 'jitter', gaps ? ms(turn.itl.stddev) : '–', '', gaps ? `max gap ${ms(turn.itl.max)} ms, ${turn.itl.stalls} stalls` : '');
  if (turn.tokensEstimated) cell(row, 'tokens', `≈${turn.tokens}`, 'est', 'counted by the client: the server reported no usage');
  else cell(row, 'tokens', String(turn.tokens));
  cell(row, 'outcome', turn.outcome, turn.outcome, turn.reason ?? '');
  if (turn.slo.good) cell(row, 'slo', 'pass', 'pass');
  else cell(row, 'slo', `fail: ${turn.slo.failed.map(criterionName).join(', ')}`, 'fail');
  const rows = $('turns');
  rows.prepend(row);
  while (rows.rows.length > MAX_ROWS) rows.lastElementChild.remove();
  scheduleRender();
}

let renderQueued = false;
/** Coalesces the updates of one frame (many chunks, turn ends) into one summary. */
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(render);
}

function render() {
  renderQueued = false;
  const s = monitor.summary();
  const t = s.turns;
  const c = s.connections;
  const open = t.open ? ` · ${t.open} open` : '';
  $('agg-turns').textContent = `${t.complete} complete · ${t.error} error · ${t.dropped} dropped · ${t.abandoned} abandoned${open}`;
  $('agg-goodput').textContent = s.goodput === undefined ? '–' : `${percent(s.goodput)} (${t.good} of ${t.valid} good)`;
  $('agg-drop-rate').textContent =
    s.dropRate === undefined ? '–' : `${percent(s.dropRate)} (${c.dropped} of ${c.dropped + c.clean} connections)`;
  $('agg-connections').textContent = `${c.active} active · ${c.peak} peak`;
  $('agg-ttft').textContent = s.ttft.count ? `${ms(s.ttft.p50)} / ${ms(s.ttft.p95)} / ${ms(s.ttft.p99)}` : '–';
  $('agg-itl-p95').textContent = ms(s.itl.p95);
  $('in-flight').textContent = `${inFlight} turn${inFlight === 1 ? '' : 's'} in flight`;
}

// ---------------------------------------------------------------------------------------------
// What the app sees: the reply of the latest turn, as it streams

let current;
let inFlight = 0;

class TurnView {
  constructor(transport, profile) {
    this.label = `${transport} · ${profile}`;
    this.audioMs = 0;
  }

  /** The request leaves now: the panel follows the turn sent last. */
  begin() {
    inFlight++;
    scheduleRender();
    current = this;
    $('current-label').textContent = this.label;
    $('current-text').textContent = '';
    this.#status('streaming…');
  }

  text(delta) {
    if (this === current) $('current-text').append(delta);
  }

  audio(base64) {
    this.audioMs += Math.floor((base64.length * 3) / 4) / PCM16_BYTES_PER_MS;
    this.#status('streaming…');
  }

  end(status) {
    inFlight--;
    this.#status(status);
    scheduleRender();
  }

  #status(status) {
    if (this !== current) return;
    const audio = this.audioMs ? ` · ${(this.audioMs / 1000).toFixed(1)} s of audio` : '';
    $('current-status').textContent = status + audio;
  }
}

// ---------------------------------------------------------------------------------------------
// Turns

/** Chat completions streamed over fetch: one connection per turn. */
async function chatTurn(profile) {
  const view = new TurnView('fetch/SSE', profile);
  view.begin();
  try {
    const body = JSON.stringify({
      model: 'earshot-demo',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: PROMPT }],
    });
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body };
    const response = await monitor.fetch(`/v1/chat/completions?profile=${profile}`, init, { adapter: adapters.sse() });
    if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      buffered += decoder.decode(read.value, { stream: true });
      const events = buffered.split('\n\n');
      buffered = events.pop();
      for (const event of events) {
        const data = event.startsWith('data: ') ? event.slice(6) : '[DONE]';
        const delta = data === '[DONE]' ? undefined : JSON.parse(data).choices[0]?.delta?.content;
        if (delta) view.text(delta);
      }
    }
    view.end('complete');
  } catch (error) {
    view.end(`failed: ${error.message}`);
  }
}

/** One Realtime session per profile, kept open across turns as a voice app keeps its session. */
const sessions = new Map();
/** Turns waiting for their session: a Realtime session streams one response at a time. */
const queues = new Map();

function session(profile) {
  const known = sessions.get(profile);
  if (known && known.ws.readyState <= WebSocket.OPEN) return known.ready;
  const url = `${location.origin.replace(/^http/, 'ws')}/realtime?profile=${profile}`;
  const ws = monitor.websocket(url, undefined, { adapter: adapters.openaiRealtime() });
  const ready = new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(ws));
    ws.addEventListener('close', (e) => reject(new Error(`session closed (${e.code})`)));
  });
  sessions.set(profile, { ws, ready });
  return ready;
}

/** A Realtime response over the profile's session, after the turns queued before it. */
function realtimeTurn(profile) {
  const output = $('realtime-output').value;
  const view = new TurnView(`WebSocket (${output})`, profile);
  const turn = (queues.get(profile) ?? Promise.resolve()).then(() => realtimeResponse(profile, output, view));
  queues.set(profile, turn);
  return turn;
}

async function realtimeResponse(profile, output, view) {
  let ws;
  try {
    ws = await session(profile);
  } catch (error) {
    view.begin();
    return view.end(`failed: ${error.message}`);
  }
  return new Promise((resolve) => {
    const finish = (status) => {
      ws.removeEventListener('message', onMessage);
      ws.removeEventListener('close', onClose);
      view.end(status);
      resolve();
    };
    const onMessage = (e) => {
      const event = JSON.parse(e.data);
      if (event.type === 'response.output_text.delta' || event.type === 'response.output_audio_transcript.delta') {
        view.text(event.delta);
      } else if (event.type === 'response.output_audio.delta') view.audio(event.delta);
      else if (event.type === 'response.done') finish('complete');
      else if (event.type === 'error') finish(`failed: ${event.error?.message}`);
    };
    const onClose = (e) => finish(`failed: session closed (${e.code}${e.reason ? ` ${e.reason}` : ''})`);
    ws.addEventListener('message', onMessage);
    ws.addEventListener('close', onClose);
    view.begin();
    ws.send(JSON.stringify({ type: 'response.create', response: { output_modalities: [output] } }));
  });
}

/** Turns alternate between the transports; chat streams overlap, Realtime turns take turns. */
async function batch(profile) {
  const turns = [];
  for (let i = 0; i < BATCH_TURNS; i++) {
    turns.push(i % 2 ? realtimeTurn(profile) : chatTurn(profile));
    await new Promise((resolve) => setTimeout(resolve, BATCH_STAGGER_MS));
  }
  await Promise.all(turns);
}

const profile = () => $('profile-select').value;
$('run-fetch').addEventListener('click', () => chatTurn(profile()));
$('run-websocket').addEventListener('click', () => realtimeTurn(profile()));
$('run-10').addEventListener('click', () => batch(profile()));
render();
