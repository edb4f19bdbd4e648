/**
 * The demo, started as the README says: `npm run demo` builds the SDK and serves the voice agent's
 * page; a spoken exchange streams over each transport (speech-to-text and text-to-speech over
 * WebSockets, the LLM over fetch/SSE) and a text chat over fetch, each turn appears with earshot's
 * numbers, and the trace view shows the turn's client spans and the agent's spans in one trace. A
 * shaped network and a batch of turns fill the page for its screenshot; a second demo on the same
 * port says so in one line and exits non-zero; Ctrl-C stops the first one cleanly with streams in flight.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Locator, type Page } from '@playwright/test';
import type { ReceivedSpan } from '../demo/receiver';
import { CONVERSATION } from '../demo/voice/lines';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SCREENSHOT = resolve(ROOT, 'e2e/artifacts/demo.png');
const README_IMAGE = resolve(ROOT, 'docs/demo.png');
const TSX = resolve(ROOT, 'node_modules/.bin/tsx');
/** `npm run demo` builds the SDK first: seconds on an idle machine, more on a busy one. */
const START_TIMEOUT_MS = 240_000;
const STOP_TIMEOUT_MS = 10_000;
/** A spoken exchange: about 1.5 s of speech, then the reply; far longer on a loaded machine. */
const EXCHANGE_TIMEOUT_MS = 60_000;
const DEMO_URL = /http:\/\/127\.0\.0\.1:\d+\//;
/** A time as the table shows it: ms to one decimal. */
const MS = /^\d+\.\d$/;
/** A turn's SLO cell: pass, or each bound it missed with its value. */
const MISSED = String.raw`((TTFT|TTFA) \d+ > 500 ms|RTF \d+\.\d\d > 1)`;
const SLO_VERDICT = new RegExp(`^(pass|fail: ${MISSED}(, ${MISSED})*)$`);
const PAGE = 'earshot-demo-page';
const AGENT = 'earshot-demo-agent';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Demo {
  child: ChildProcess;
  output(): string;
  /** How `npm run demo` ended. */
  exited: Promise<Exit>;
}

const started: ChildProcess[] = [];

/** `npm run demo` as the README says; `serverOnly` skips its build step (already proven). */
function startDemo(port: number, { serverOnly = false } = {}): Demo {
  const [command, args] = serverOnly ? [TSX, ['demo/server.ts']] : ['npm', ['run', 'demo']];
  // A process group of its own: a signal to the group reaches npm, the shell, tsx and the server
  // together, as Ctrl-C in a terminal does.
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port) },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  child.stdout?.on('data', (data: Buffer) => (output += data.toString()));
  child.stderr?.on('data', (data: Buffer) => (output += data.toString()));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function printedUrl(demo: Demo): Promise<string> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const url = DEMO_URL.exec(demo.output())?.[0];
    if (url) return url;
    if (demo.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`npm run demo printed no URL:\n${demo.output()}`);
    }
    await sleep(100);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether anything accepts connections on the port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Whether any process of the group is left. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Page errors and console errors: what a user would see go wrong. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return errors;
}

async function number(cell: Locator): Promise<number> {
  const text = (await cell.textContent()) ?? '';
  expect(text, 'a time in ms to one decimal').toMatch(MS);
  return Number(text);
}

const turnsText = (complete: number, dropped = 0) => `${complete} complete · 0 error · ${dropped} dropped · 0 abandoned`;

test.describe.configure({ mode: 'serial', timeout: 240_000 });

let port: number;
let demo: Demo;
let url: string;
/** One page for the whole story, as a user keeps the demo open until Ctrl-C. */
let page: Page;
let errors: string[];

test.beforeAll(async ({ browser }) => {
  test.setTimeout(START_TIMEOUT_MS + 5_000);
  port = await freePort();
  demo = startDemo(port);
  url = await printedUrl(demo);
  expect(url).toBe(`http://127.0.0.1:${port}/`);
  page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  errors = collectErrors(page);
});

test.afterAll(async () => {
  await page?.close();
  for (const child of started) {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group already exited.
    }
  }
});

/** The row of the turn of `kind` (STT, LLM, TTS, Voice), newest first. */
const row = (kind: string, nth = 0) => page.getByTestId('turn-row').filter({ has: page.getByTestId('kind').getByText(kind, { exact: true }) }).nth(nth);

test('a spoken exchange and a chat stream over each transport, and the table shows what earshot measured', async () => {
  await page.goto(url);
  await page.getByTestId('profile-select').selectOption('fast');
  const rows = page.getByTestId('turn-row');

  await page.getByTestId('run-voice').click();
  // Speech-to-text, the LLM, text-to-speech, and the voice turn over all three.
  await expect(rows).toHaveCount(4, { timeout: EXCHANGE_TIMEOUT_MS });
  const [exchange] = CONVERSATION;
  await expect(page.getByTestId('user-text')).toHaveText(exchange.question);
  await expect(page.getByTestId('agent-text')).toHaveText(exchange.answer.join(' '));
  // Once the reply has played out.
  await expect(page.getByTestId('current-status')).toHaveText('complete', { timeout: 10_000 });

  for (const [kind, transport] of [
    ['STT', 'WebSocket'],
    ['LLM', 'fetch/SSE'],
    ['TTS', 'WebSocket'],
    ['Voice', 'manual'],
  ]) {
    const r = row(kind);
    await expect(r.getByTestId('transport')).toHaveText(transport);
    await expect(r.getByTestId('conditions')).toHaveText('fast · none');
    await expect(r.getByTestId('outcome')).toHaveText('complete');
    expect(await number(r.getByTestId('ttfb'))).toBeGreaterThan(0);
    expect(await number(r.getByTestId('ttft'))).toBeGreaterThan(0);
    await expect(r.getByTestId('slo')).toHaveText(SLO_VERDICT);
  }
  // Partial transcripts and tokens come one after another: gaps and their jitter.
  for (const kind of ['STT', 'LLM']) {
    expect(await number(row(kind).getByTestId('itl-p95'))).toBeGreaterThan(0);
    await number(row(kind).getByTestId('jitter'));
  }
  // The reply's audio was heard: time to first audio for the speech turn, voice-to-voice for the exchange.
  expect(await number(row('TTS').getByTestId('ttfa'))).toBeGreaterThan(0);
  expect(await number(row('Voice').getByTestId('v2v'))).toBeGreaterThan(0);
  await expect(row('Voice').getByTestId('ttfa')).toHaveText('–');
  await expect(row('TTS').getByTestId('v2v')).toHaveText('–');

  await page.getByTestId('run-chat').click();
  await expect(rows).toHaveCount(5, { timeout: EXCHANGE_TIMEOUT_MS });
  await expect(rows.first().getByTestId('kind')).toHaveText('LLM');
  await expect(rows.first().getByTestId('outcome')).toHaveText('complete');
  expect(await number(rows.first().getByTestId('tpot'))).toBeGreaterThan(0);
  await expect(page.getByTestId('agent-text')).toHaveText(/^\w+( \S+){20,}$/);

  await expect(page.getByTestId('agg-turns')).toHaveText(turnsText(5));
  // Speech-to-text and text-to-speech each closed by the agent once done, two chat streams read to the end.
  await expect(page.getByTestId('agg-drop-rate')).toHaveText('0.0% (0 of 4 connections; bound 0.1%)');
  await expect(page.getByTestId('agg-connections')).toHaveText(/^0 active · \d peak · 4 opened$/);
  await expect(page.getByTestId('agg-goodput')).toHaveText(/^\d+\.\d% \([0-5] of 5 good\)$/);
  await expect(page.getByTestId('agg-ttft')).toHaveText(/^\d+\.\d \/ \d+\.\d \/ \d+\.\d$/);
  await expect(page.getByTestId('agg-ttfa')).toHaveText(/^\d+\.\d \/ \d+\.\d$/);
  await expect(page.getByTestId('agg-budget')).toHaveText(/^-?\d+\.\d% of the budget \(1\.0% of turns may be bad\)$/);
  await expect(page.getByTestId('agg-burn')).toHaveText(/^1h\/5m \d+\.\d×\/\d+\.\d×.* · 6h\/30m .* · 3d\/6h .*$/);
  await expect(page.getByTestId('in-flight')).toHaveText('0 in flight');
  // uPlot drew both plots.
  await expect(page.getByTestId('chart-buffer').locator('canvas')).toHaveCount(1);
  await expect(page.getByTestId('chart-itl').locator('canvas')).toHaveCount(1);
  expect(errors).toEqual([]);
});

test("the trace view shows a turn's client spans and the agent's spans beneath them, in one trace", async () => {
  await row('Voice').click();
  const spans = page.getByTestId('trace-span');
  // The agent's three spans, each under the page's span of the turn it served.
  for (const name of ['stt', 'llm.generate', 'tts.synthesize']) {
    await expect(spans.and(page.locator(`[data-service="${AGENT}"][data-name="${name}"]`))).toHaveCount(1, { timeout: 15_000 });
  }
  const traceId = (await page.getByTestId('trace-id').textContent()) ?? '';
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);
  // Every span shown belongs to that trace; the selected one is the voice turn.
  const shown = await spans.evaluateAll((rows) =>
    rows.map((r) => {
      const { traceId, service, name } = (r as HTMLElement).dataset;
      return { traceId, service, name, selected: r.classList.contains('selected') };
    }),
  );
  expect(new Set(shown.map((s) => s.traceId))).toEqual(new Set([traceId]));
  expect(new Set(shown.map((s) => s.service))).toEqual(new Set([PAGE, AGENT]));
  expect(shown.filter((s) => s.selected).map((s) => s.name)).toEqual(['earshot.turn']);

  // The receiver's own answer: each agent span's parent is earshot's turn span of the stream that carried it.
  const { spans: stored } = (await (await page.request.get(`${url}api/traces/${traceId}`)).json()) as { spans: ReceivedSpan[] };
  const byId = new Map(stored.map((s) => [s.spanId, s]));
  const parentOf = (name: string) => {
    const span = stored.find((s) => s.name === name)!;
    return byId.get(span.parentSpanId);
  };
  for (const [name, path] of [
    ['stt', '/v1/stt'],
    ['llm.generate', '/v1/chat/completions'],
    ['tts.synthesize', '/v1/tts'],
  ]) {
    const turn = parentOf(name);
    expect(turn?.name, `${name}'s parent`).toBe('earshot.turn');
    expect(turn?.resource['service.name']).toBe(PAGE);
    expect(new URL(String(turn?.attributes['url.full'])).pathname).toBe(path);
  }
  // The voice turn and every connection hang off the app's span of the exchange.
  const root = stored.find((s) => !s.parentSpanId);
  expect(root?.name).toBe('voice.interaction');
  const voice = stored.find((s) => s.name === 'earshot.turn' && s.attributes['earshot.transport'] === 'manual');
  expect(voice?.parentSpanId).toBe(root?.spanId);
  expect(voice?.events.map((e) => e.name)).toEqual(expect.arrayContaining(['earshot.first_content', 'earshot.first_audio']));
  expect(stored.filter((s) => s.name === 'earshot.connection').map((s) => s.parentSpanId)).toEqual([root?.spanId, root?.spanId, root?.spanId]);

  // The chat's trace: its fetch turn and the agent's span.
  await row('LLM').click();
  await expect(spans.and(page.locator(`[data-service="${AGENT}"][data-name="llm.generate"]`))).toHaveCount(1, { timeout: 15_000 });
  await expect(spans).toHaveCount(4);
  await expect(spans.first()).toHaveAttribute('data-name', 'chat.request');
  expect(errors).toEqual([]);
});

test('on a shaped network the exchanges still complete, and a batch fills the page', async () => {
  await page.getByTestId('network-select').selectOption('lossy');
  await page.getByTestId('run-voice').click();
  await expect(page.getByTestId('agg-turns')).toHaveText(turnsText(9), { timeout: EXCHANGE_TIMEOUT_MS });
  for (const kind of ['STT', 'LLM', 'TTS', 'Voice']) {
    await expect(row(kind).getByTestId('conditions')).toHaveText('fast · lossy');
    await expect(row(kind).getByTestId('outcome')).toHaveText('complete');
  }

  await page.getByTestId('network-select').selectOption('wifi');
  await page.getByTestId('run-batch').click();
  // Three exchanges of four turns and three chats.
  await expect(page.getByTestId('agg-turns')).toHaveText(turnsText(24), { timeout: 3 * EXCHANGE_TIMEOUT_MS });
  await expect(page.getByTestId('in-flight')).toHaveText('0 in flight');
  // The last exchange's trace, as the README's picture shows it.
  await row('Voice').click();
  await expect(page.getByTestId('trace-span').and(page.locator(`[data-service="${AGENT}"]`))).toHaveCount(3, { timeout: 15_000 });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  copyFileSync(SCREENSHOT, README_IMAGE);

  // Overloaded, the chat's first token is a second away: the turn misses its TTFT, and its trace
  // shows the SLO violation as a log record on the turn's span.
  await page.getByTestId('profile-select').selectOption('overloaded');
  await page.getByTestId('network-select').selectOption('none');
  await page.getByTestId('run-chat').click();
  await expect(page.getByTestId('agg-turns')).toHaveText(turnsText(25), { timeout: EXCHANGE_TIMEOUT_MS });
  await expect(row('LLM').getByTestId('slo')).toHaveText(/^fail/);
  await row('LLM').click();
  // The trace view still shows the voice exchange until the chat's trace comes: read the trace id
  // from the chat turn's own span.
  const turnId = (await row('LLM').getAttribute('data-turn'))!;
  const traceId = (await page.locator(`[data-testid="trace-span"][data-turn-id="${turnId}"]`).getAttribute('data-trace-id', { timeout: 15_000 }))!;
  // Log records leave the page a moment after their turn ends: wait for them at the receiver, then
  // open the trace again.
  await expect
    .poll(async () => ((await (await page.request.get(`${url}api/logs?traceId=${traceId}`)).json()) as unknown[]).length, { timeout: 30_000 })
    .toBeGreaterThan(0)
    .catch(async (error: unknown) => {
      // What to look at when it fails: the turn's outcome, and every record the receiver holds.
      const all = (await (await page.request.get(`${url}api/logs`)).json()) as Array<{ eventName?: string; traceId?: string }>;
      const outcome = await row('LLM').getByTestId('outcome').textContent();
      const { dropped, internalErrors } = await page.evaluate(() => {
        const g = globalThis as unknown as { telemetry: { dropped(): number }; monitor: { internalErrors: number } };
        return { dropped: g.telemetry.dropped(), internalErrors: g.monitor.internalErrors };
      });
      throw new Error(
        `no log record on trace ${traceId} (turn ${outcome}; telemetry dropped ${dropped}; earshot's internal errors ${internalErrors}); the receiver holds ${JSON.stringify(all.map((r) => [r.eventName, r.traceId]))}`,
        { cause: error },
      );
    });
  await row('LLM').click();
  await expect(page.getByTestId('trace-log').first()).toBeAttached({ timeout: 15_000 });
  expect(errors).toEqual([]);
});

test('a second demo on the same port exits non-zero with one clear line', async () => {
  // The server step of `npm run demo`: a second build would only repeat the first test's.
  const second = startDemo(port, { serverOnly: true });
  expect(await second.exited, second.output()).toEqual({ code: 1, signal: null });
  const output = second.output();
  expect(output).toContain(
    `earshot demo: port ${port} is already in use. Stop what is using it, or choose another port: PORT=${port + 1} npm run demo`,
  );
  expect(output, 'no stack trace').not.toMatch(/^\s+at /m);
  // The first demo is unaffected.
  expect(await listening(port)).toBe(true);
});

test('Ctrl-C stops the demo cleanly with streams in flight', async () => {
  // Overloaded: the chat's first token is a second away, and the user is still speaking.
  await page.getByTestId('profile-select').selectOption('overloaded');
  await page.getByTestId('network-select').selectOption('none');
  await page.getByTestId('run-chat').click();
  await page.getByTestId('run-voice').click();
  await expect(page.getByTestId('in-flight')).toHaveText('2 in flight');
  // The chat stream, and the speech-to-text socket the question streams over.
  await expect(page.getByTestId('agg-connections')).toHaveText(/^2 active/);

  const pgid = demo.child.pid!;
  process.kill(-pgid, 'SIGINT');
  // The server exits 0 once its sockets are closed, and says so; the script `exec`s it, so npm
  // ends with the server's own status.
  expect(await demo.exited, demo.output()).toEqual({ code: 0, signal: null });
  await expect.poll(() => groupAlive(pgid), { timeout: STOP_TIMEOUT_MS, message: 'every process of the demo exits' }).toBe(false);
  expect(demo.output()).toContain('earshot demo: stopped');
  expect(await listening(port)).toBe(false);

  // The page saw both streams end under it: dropped, not abandoned.
  await expect(page.getByTestId('agg-turns')).toHaveText(turnsText(25, 2));
  await expect(page.getByTestId('agg-connections')).toHaveText(/^0 active/);
  await expect(page.getByTestId('in-flight')).toHaveText('0 in flight', { timeout: 10_000 });
  // The browser's own reports of failed requests (the stream cut, exports to a server gone), not the page's.
  expect(errors.filter((e) => !e.includes('net::'))).toEqual([]);
});
