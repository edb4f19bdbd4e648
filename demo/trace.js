/**
 * The trace of the selected turn as a waterfall, from the OTLP receiver's query API
 * (`/api/traces/<trace id>`): the app's span, earshot's connection and turn spans with their events
 * (first byte, first content, first audio, end), and the agent's spans beneath them, on one time axis;
 * beside them the trace's log records (`/api/logs?traceId=`: SLO violations, drops, underruns), each
 * on the row of its span.
 */
const PAGE_SERVICE = 'earshot-demo-page';
/** Spans arrive as their exporters send them: read the trace again until it stops changing. */
const POLL_MS = 500;
const MAX_POLLS = 20;
const KINDS = { 1: 'internal', 2: 'server', 3: 'client' };

let generation = 0;

export async function showTrace(view, traceId, turnId) {
  const mine = ++generation;
  let count = -1;
  for (let poll = 0; poll < MAX_POLLS && mine === generation; poll++) {
    let spans;
    let logs = [];
    try {
      spans = (await (await fetch(`/api/traces/${traceId}`)).json()).spans;
      const records = await (await fetch(`/api/logs?traceId=${traceId}`)).json();
      logs = Array.isArray(records) ? records : [];
    } catch {
      spans ??= undefined;
    }
    if (mine !== generation) return;
    if (spans) render(view, traceId, spans, turnId, logs);
    // The app's span ends last: once it is in and nothing new came (spans or logs), the trace is whole.
    const seen = spans ? spans.length + logs.length : -1;
    if (spans?.some((s) => !s.parentSpanId) && seen === count) return;
    count = seen;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

const el = (tag, className, text) => {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
};

/** A span's name, with what earshot knows about its stream. */
function label(span) {
  const a = span.attributes;
  const url = typeof a['url.full'] === 'string' ? new URL(a['url.full'], location.href).pathname : '';
  const transport = a['earshot.transport'] ?? '';
  const about = [transport, url].filter(Boolean).join(' ');
  return about ? `${span.name} · ${about}` : span.name;
}

function render(view, traceId, spans, turnId, logs) {
  const services = [...new Set(spans.map((s) => s.resource['service.name']))];
  view.title.replaceChildren('Trace ', Object.assign(el('code', '', traceId), { title: 'trace id' }), ` · ${spans.length} spans from ${services.join(' and ')}`);
  view.title.querySelector('code').dataset.testid = 'trace-id';
  const link = Object.assign(el('a', '', 'raw spans (JSON)'), { href: `/api/traces/${traceId}`, target: '_blank' });
  const logLink = Object.assign(el('a', '', `logs (${logs.length})`), { href: `/api/logs?traceId=${traceId}`, target: '_blank' });
  view.link.replaceChildren(link, ' · ', logLink);
  const logsOf = new Map();
  for (const record of logs) {
    if (!logsOf.has(record.spanId)) logsOf.set(record.spanId, []);
    logsOf.get(record.spanId).push(record);
  }

  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const children = new Map();
  const roots = [];
  for (const s of spans) {
    if (byId.has(s.parentSpanId)) {
      if (!children.has(s.parentSpanId)) children.set(s.parentSpanId, []);
      children.get(s.parentSpanId).push(s);
    } else roots.push(s);
  }
  const start = spans.reduce((min, s) => (BigInt(s.startTimeUnixNano) < min ? BigInt(s.startTimeUnixNano) : min), BigInt(spans[0]?.startTimeUnixNano ?? 0));
  const end = spans.reduce((max, s) => (BigInt(s.endTimeUnixNano) > max ? BigInt(s.endTimeUnixNano) : max), start);
  const total = Math.max(1, Number(end - start) / 1e6);
  const at = (nanos) => Number(BigInt(nanos) - start) / 1e6;
  const share = (ms) => `${((ms / total) * 100).toFixed(3)}%`;

  const rows = [];
  const walk = (span, depth) => {
    const service = span.resource['service.name'];
    const row = el('div', 'span');
    Object.assign(row.dataset, { testid: 'trace-span', name: span.name, service, traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId, kind: KINDS[span.kind] ?? '' });
    const turn = span.attributes['earshot.turn.id'];
    if (turn !== undefined) row.dataset.turnId = turn;
    if (turnId && turn === turnId) row.classList.add('selected');
    const name = el('div', 'name', label(span));
    name.style.paddingLeft = `${depth * 14}px`;
    const server = span.attributes['earshot.ttft.server_ms'];
    // From Server-Timing: the server's part of the turn's TTFT, and what the network and the page added.
    name.title = server === undefined ? label(span) : `${label(span)}\nTTFT: server ${server.toFixed(1)} ms + network ${span.attributes['earshot.ttft.network_ms'].toFixed(1)} ms`;
    const from = at(span.startTimeUnixNano);
    const ms = at(span.endTimeUnixNano) - from;
    const lane = el('div', 'lane');
    const who = service !== PAGE_SERVICE ? 'server' : span.name.startsWith('earshot.') ? 'client' : 'app';
    const bar = el('div', `bar ${who}${span.status.code === 2 ? ' failed' : ''}`);
    Object.assign(bar.style, { left: share(from), width: share(ms) });
    bar.title = `${span.name}: ${ms.toFixed(1)} ms${span.status.message ? ` (${span.status.message})` : ''}`;
    lane.append(bar);
    for (const event of span.events) {
      const tick = el('div', 'tick');
      const t = at(event.timeUnixNano);
      tick.style.left = share(t);
      tick.title = `${event.name} at +${(t - from).toFixed(1)} ms`;
      lane.append(tick);
    }
    for (const record of logsOf.get(span.spanId) ?? []) {
      const mark = el('div', `log ${String(record.severityText).toLowerCase()}`);
      const t = at(record.timeUnixNano);
      mark.style.left = share(Math.min(Math.max(t, 0), total));
      mark.title = `${record.body}\n${Object.entries(record.attributes).map(([k, v]) => `${k}: ${v}`).join('\n')}`;
      mark.dataset.testid = 'trace-log';
      lane.append(mark);
    }
    const where = el('div', 'service', `${who === 'server' ? 'agent' : 'page'} · ${KINDS[span.kind] ?? ''}`);
    where.title = service;
    row.append(name, where, lane, el('div', 'dur', `${ms.toFixed(1)} ms`));
    rows.push(row);
    for (const child of children.get(span.spanId) ?? []) walk(child, depth + 1);
  };
  for (const root of roots) walk(root, 0);
  // The records as a list too: what went wrong, in words, under the spans it happened on.
  const list = logs.map((record) => {
    const span = byId.get(record.spanId);
    const item = el('div', 'log-line', `${record.severityText} ${record.body} · ${span ? span.name : 'no span'} · +${at(record.timeUnixNano).toFixed(1)} ms`);
    item.title = JSON.stringify(record.attributes);
    return item;
  });
  view.spans.replaceChildren(...rows, ...list);
}
