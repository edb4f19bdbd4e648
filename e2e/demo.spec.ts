/**
 * The demo, started as the README says: `npm run demo` builds the SDK and serves the page, each
 * transport streams a turn that earshot reports in the table, a second demo on the same port says so
 * in one line and exits non-zero, and Ctrl-C stops the first one cleanly with streams in flight.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test, type Locator, type Page } from '@playwright/test';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SCREENSHOT = resolve(ROOT, 'e2e/artifacts/demo.png');
const TSX = resolve(ROOT, 'node_modules/.bin/tsx');
/** `npm run demo` builds the SDK first: seconds on an idle machine, more on a busy one. */
const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 10_000;
const DEMO_URL = /http:\/\/127\.0\.0\.1:\d+\//;
/** A time as the table shows it: ms to one decimal. */
const MS = /^\d+\.\d$/;

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

test.describe.configure({ mode: 'serial', timeout: START_TIMEOUT_MS + 30_000 });

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
  page = await browser.newPage();
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

test('the page streams over each transport and shows the turns earshot reports', async () => {
  await page.goto(url);
  await page.getByTestId('profile-select').selectOption('fast');
  const rows = page.getByTestId('turn-row');

  await page.getByTestId('run-fetch').click();
  await expect(rows).toHaveCount(1);
  await page.getByTestId('run-websocket').click();
  await expect(rows).toHaveCount(2);

  // Newest first.
  for (const [i, transport] of ['WebSocket', 'fetch/SSE'].entries()) {
    const row = rows.nth(i);
    await expect(row.getByTestId('transport')).toHaveText(transport);
    await expect(row.getByTestId('profile')).toHaveText('fast');
    await expect(row.getByTestId('outcome')).toHaveText('complete');
    expect(await number(row.getByTestId('ttft'))).toBeGreaterThan(0);
    expect(await number(row.getByTestId('ttfb'))).toBeGreaterThan(0);
    expect(await number(row.getByTestId('tpot'))).toBeGreaterThan(0);
    expect(await number(row.getByTestId('itl-p95'))).toBeGreaterThan(0);
    await number(row.getByTestId('jitter'));
    // Both endpoints report usage: exact counts, no estimate mark.
    expect(Number(await row.getByTestId('tokens').textContent())).toBeGreaterThan(20);
    await expect(row.getByTestId('slo')).toHaveText(/^(pass|fail: TTFT|fail: TPOT|fail: TTFT, TPOT)$/);
  }
  await expect(page.getByTestId('current-status')).toHaveText('complete');
  await expect(page.getByTestId('current-text')).toHaveText(/^\w+( \S+){20,}$/);
  await expect(page.getByTestId('agg-turns')).toHaveText('2 complete · 0 error · 0 dropped · 0 abandoned');
  // The chat stream ended clean; the Realtime session stays open.
  await expect(page.getByTestId('agg-drop-rate')).toHaveText('0.0% (0 of 1 connections)');
  await expect(page.getByTestId('agg-connections')).toHaveText(/^1 active · [12] peak$/);

  // Five Realtime turns take their turn on one session: a few seconds.
  await page.getByTestId('run-10').click();
  await expect(page.getByTestId('agg-turns')).toHaveText('12 complete · 0 error · 0 dropped · 0 abandoned', {
    timeout: 20_000,
  });
  await expect(rows).toHaveCount(12);
  await expect(page.getByTestId('agg-goodput')).toHaveText(/^\d+\.\d% \(\d+ of 12 good\)$/);
  await expect(page.getByTestId('agg-ttft')).toHaveText(/^\d+\.\d \/ \d+\.\d \/ \d+\.\d$/);
  await expect(page.getByTestId('agg-itl-p95')).toHaveText(MS);
  await expect(page.getByTestId('in-flight')).toHaveText('0 turns in flight');
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
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
  // Overloaded: the first token is a second away, so both turns are open when the signal comes.
  await page.getByTestId('profile-select').selectOption('overloaded');
  await page.getByTestId('run-fetch').click();
  await page.getByTestId('run-websocket').click();
  await expect(page.getByTestId('in-flight')).toHaveText('2 turns in flight');
  // The chat stream, and a Realtime session per profile used.
  await expect(page.getByTestId('agg-connections')).toHaveText(/^3 active/);

  const pgid = demo.child.pid!;
  process.kill(-pgid, 'SIGINT');
  // The server exits 0 once its sockets are closed, and says so; the script `exec`s it, so npm
  // ends with the server's own status.
  expect(await demo.exited, demo.output()).toEqual({ code: 0, signal: null });
  await expect.poll(() => groupAlive(pgid), { timeout: STOP_TIMEOUT_MS, message: 'every process of the demo exits' }).toBe(false);
  expect(demo.output()).toContain('earshot demo: stopped');
  expect(await listening(port)).toBe(false);

  // The page saw its connections end under it: dropped, not abandoned.
  await expect(page.getByTestId('agg-turns')).toHaveText('12 complete · 0 error · 2 dropped · 0 abandoned');
  await expect(page.getByTestId('agg-connections')).toHaveText(/^0 active/);
  await expect(page.getByTestId('in-flight')).toHaveText('0 turns in flight');
  // The browser's own report of the failed fetch read, not the page's.
  expect(errors.filter((e) => !e.includes('net::'))).toEqual([]);
});
