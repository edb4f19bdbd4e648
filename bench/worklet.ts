/**
 * Worklet cost: the player's process() time per render quantum, in Chromium (`npx tsx bench/worklet.ts`,
 * after `npm run build`).
 *
 * Method: an OfflineAudioContext renders 60 s (22500 quanta of 128 frames at 48 kHz) as fast as it
 * can, once through the player (24 kHz speech-like chunks of 20 ms with jitter, resampled, all
 * stamped on the render clock and sent before rendering) and once through a processor whose
 * process() does nothing. The difference of the two wall times, over the quanta, is what process()
 * costs, including draining commands (ring or messages). Rounds alternate the two graphs; on a shared
 * machine other processes only ever add time, so the figure takes each graph's fastest round (the
 * median difference is printed beside it, to show the load). Budget: 1 % of a quantum's 2.67 ms, 26.7 µs.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { launchChromium } from '../e2e/chromium';

const ROUNDS = Number(process.env.ROUNDS ?? 9);
const SECONDS = 60;
const RATE = 48000;
const QUANTA = (SECONDS * RATE) / 128;
const QUANTUM_US = (128 / RATE) * 1e6;
const BUDGET_US = QUANTUM_US * 0.01;
const root = join(import.meta.dirname, '..');

const NULL_WORKLET = `registerProcessor('null', class extends AudioWorkletProcessor { process() { return true; } });`;

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import { createPlayer } from '/dist/jitter-buffer.js';
const RATE = ${RATE}, LENGTH = ${SECONDS} * RATE;
const context = () => new OfflineAudioContext({ numberOfChannels: 1, length: LENGTH, sampleRate: RATE });
const time = async (ctx) => { const t = performance.now(); await ctx.startRendering(); return performance.now() - t; };
window.baseline = async () => {
  const ctx = context();
  await ctx.audioWorklet.addModule('/null-worklet.js');
  new AudioWorkletNode(ctx, 'null', { numberOfInputs: 0, outputChannelCount: [1] }).connect(ctx.destination);
  return time(ctx);
};
window.player = async () => {
  const ctx = context();
  const player = await createPlayer(ctx, { sampleRate: 24000 });
  // 20 ms chunks of a 220 Hz tone at 24 kHz, sent in real time with up to 6 ms of jitter.
  for (let i = 0; i < ${SECONDS} * 50; i++) {
    const chunk = Float32Array.from({ length: 480 }, (_, k) => 0.4 * Math.sin((2 * Math.PI * 220 * (i * 480 + k)) / 24000));
    player.push(chunk, { at: i * 20 + ((i * 7919) % 13) * 0.5, seq: i, mediaMs: i * 20 });
  }
  await player.stats();
  return { ms: await time(ctx), shared: player.shared };
};
window.ready = true;
</script>`;

function startServer(isolated: boolean) {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    if (isolated) Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    const send = (type: string, body: string | Buffer) => res.writeHead(200, { ...headers, 'content-type': type }).end(body);
    if (path === '/') return send('text/html', PAGE);
    if (path === '/null-worklet.js') return send('text/javascript', NULL_WORKLET);
    const file = normalize(join(root, path));
    if (!file.startsWith(join(root, 'dist'))) return res.writeHead(404).end();
    try {
      send(extname(file) === '.js' ? 'text/javascript' : 'application/octet-stream', await readFile(file));
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise<{ url: string; close: () => void }>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() })),
  );
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const browser = await launchChromium();
let over = false;
try {
  for (const isolated of [false, true]) {
    const server = await startServer(isolated);
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForFunction('window.ready === true');
    // One warm-up of each, so both run JIT-compiled code.
    await page.evaluate('window.baseline()');
    const { shared } = (await page.evaluate('window.player()')) as { ms: number; shared: boolean };
    const base: number[] = [];
    const played: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      base.push((await page.evaluate('window.baseline()')) as number);
      played.push(((await page.evaluate('window.player()')) as { ms: number }).ms);
    }
    const perQuantumUs = (ms: number): number => (ms * 1000) / QUANTA;
    const us = perQuantumUs(Math.min(...played) - Math.min(...base));
    over ||= us > BUDGET_US;
    console.log(
      `worklet process(), ${shared ? 'shared ring' : 'messages'}: ${us.toFixed(2)} µs per quantum ` +
        `(${((us / QUANTUM_US) * 100).toFixed(3)} % of a quantum; budget ${BUDGET_US.toFixed(1)} µs = 1 %); ` +
        `median of round differences ${perQuantumUs(median(played.map((ms, i) => ms - base[i]))).toFixed(2)} µs; ` +
        `baseline render ${perQuantumUs(Math.min(...base)).toFixed(2)} µs per quantum`,
    );
    await page.close();
    server.close();
  }
} finally {
  await browser.close();
}
process.exitCode = over ? 1 : 0;
