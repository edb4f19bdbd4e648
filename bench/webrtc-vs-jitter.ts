/**
 * One arrival schedule, two jitter buffers: Chromium's NetEq playing a WebRTC audio track, and
 * earshot's JitterBuffer (src/audio/jitter-buffer.ts) fed the very packets at the times they left.
 *
 * The WebRTC agent of the end-to-end tests (e2e/webrtc-peer.ts, Opus at 20 ms per packet over
 * loopback) sends one long talkspurt per schedule, each packet up to `jitter` ms late (uniform,
 * seeded, order kept), to a fresh peer connection in headless Chromium; NetEq's W3C counters are
 * read before and after. The agent's log of when each packet actually left becomes the arrival
 * schedule earshot's buffer is driven by in Node (loopback adds well under a millisecond), pulled
 * in 128-frame quanta at 48 kHz as an AudioWorklet would.
 *
 * Reported for both, from their W3C counters: mean added delay per sample (jitterBufferDelay /
 * jitterBufferEmittedCount), mean target, audible concealment ((concealedSamples -
 * silentConcealedSamples) / emitted) and time-stretching ((inserted + removed) / emitted).
 *
 *   npx tsx bench/webrtc-vs-jitter.ts [--seconds 8] [--jitter 0,40,100,200]
 *
 * The agent runs on this machine's clock: a loaded machine adds its own lateness, which both
 * buffers see alike (the table shows the agent's measured lateness).
 */
import { parseArgs } from 'node:util';
import { JitterBuffer, type JitterBufferStats } from '../src/audio/jitter-buffer';
import { launchChromium } from '../e2e/chromium';
import { PACKET_MS, SAMPLE_RATE, spawnPeer, tone, type SessionLog } from '../e2e/webrtc-peer';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' }, jitter: { type: 'string', default: '0,40,100,200' } } });
const TONE_MS = Number(values.seconds) * 1000;
const JITTERS = values.jitter.split(',').map(Number);
/** Silence before the tone, so that NetEq has started by the time it plays. */
const LEAD_MS = 200;
const QUANTUM = 128;

interface Counters {
  delay: number;
  emitted: number;
  target: number;
  received: number;
  concealed: number;
  silentConcealed: number;
  inserted: number;
  removed: number;
}

/** What one schedule cost in each buffer. */
interface Row {
  jitterMs: number;
  lateMeanMs: number;
  lateMaxMs: number;
  neteq: Counters;
  earshot: Counters;
}

/**
 * The browser side, as source text (it runs in the page as written): connect to the agent, play the
 * track, and return NetEq's counters over one turn of `toneMs`.
 */
const PAGE = `async ({ base, id, jitterMs, leadMs, toneMs }) => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const pc = new RTCPeerConnection();
  pc.addTransceiver('audio', { direction: 'recvonly' });
  const dc = pc.createDataChannel('oai-events');
  const audio = new Audio();
  pc.ontrack = (e) => { audio.srcObject = new MediaStream([e.track]); audio.play(); };
  await pc.setLocalDescription(await pc.createOffer());
  while (pc.iceGatheringState !== 'complete') await sleep(20);
  const res = await fetch(base + '/offer?id=' + id, { method: 'POST', body: pc.localDescription.sdp });
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  while (dc.readyState !== 'open') await sleep(20);
  const counters = async () => {
    const out = { delay: 0, emitted: 0, target: 0, received: 0, concealed: 0, silentConcealed: 0, inserted: 0, removed: 0 };
    (await pc.getStats()).forEach((s) => {
      if (s.type !== 'inbound-rtp' || s.kind !== 'audio') return;
      Object.assign(out, {
        delay: s.jitterBufferDelay, emitted: s.jitterBufferEmittedCount, target: s.jitterBufferTargetDelay,
        received: s.totalSamplesReceived, concealed: s.concealedSamples, silentConcealed: s.silentConcealedSamples,
        inserted: s.insertedSamplesForDeceleration, removed: s.removedSamplesForAcceleration,
      });
    });
    return out;
  };
  const before = await counters();
  dc.send(JSON.stringify({ type: 'response.create', script: { gaps: '10', audioAtMs: leadMs, toneMs, jitterMs } }));
  await sleep(leadMs + toneMs + 1500);
  const after = await counters();
  pc.close();
  const d = {};
  for (const k in after) d[k] = after[k] - before[k];
  return d;
}`;

/** Packet k of the agent's talkspurt, as it encoded it: silence, its tone over packets [from, to), silence. */
function packet(k: number, from: number, to: number): Float32Array {
  const n = (SAMPLE_RATE * PACKET_MS) / 1000;
  const out = new Float32Array(n);
  if (k >= from && k < to) for (let s = 0; s < n; s++) out[s] = tone(k * n + s);
  return out;
}

/** earshot's buffer driven by the packets as they left: pushed at their send time, pulled a quantum at a time. */
function replay(log: SessionLog): Counters {
  const turn = log.turns[0];
  const packets = log.sent;
  // A WebRTC track is live audio: NetEq bounds its latency, and so does earshot's live mode.
  const jb = new JitterBuffer({ inputSampleRate: SAMPLE_RATE, outputSampleRate: SAMPLE_RATE, mode: 'live' });
  const out = new Float32Array(QUANTUM);
  const first = packets[0];
  const blockMs = (QUANTUM * 1000) / SAMPLE_RATE;
  let next = 0;
  for (let t = first[1]; next < packets.length || t < packets.at(-1)![1] + 1000; t += blockMs) {
    for (; next < packets.length && packets[next][1] <= t; next++) {
      const [k, at] = packets[next];
      jb.push(packet(k, turn.onsetPacket!, turn.onsetPacket! + Math.ceil(TONE_MS / PACKET_MS)), at, { seq: k, mediaMs: (k - first[0]) * PACKET_MS });
      if (next === packets.length - 1) jb.end();
    }
    jb.pull(out, t);
  }
  const s: JitterBufferStats = jb.stats();
  return {
    delay: s.jitterBufferDelay,
    emitted: s.jitterBufferEmittedCount,
    target: s.jitterBufferTargetDelay,
    received: s.totalSamplesReceived,
    concealed: s.concealedSamples,
    silentConcealed: s.silentConcealedSamples,
    inserted: s.insertedSamplesForDeceleration,
    removed: s.removedSamplesForAcceleration,
  };
}

const perSample = (c: Counters, v: number) => ((v / c.emitted) * 1000).toFixed(1);
/**
 * Audible concealment over the media played: NetEq keeps concealing after the talkspurt's last
 * packet (silence, as the talkspurt ends in silence), which is not the schedule's doing.
 */
const share = (c: Counters) => (((c.concealed - c.silentConcealed) / c.emitted) * 100).toFixed(2);
const stretch = (c: Counters) => (((c.inserted + c.removed) / c.emitted) * 100).toFixed(2);

const peer = await spawnPeer();
const browser = await launchChromium();
const rows: Row[] = [];
try {
  const page = await browser.newPage();
  // The agent's first talkspurt runs on cold code: one schedule thrown away first.
  for (const [i, jitterMs] of [0, ...JITTERS].entries()) {
    const id = `bench-${i}`;
    const neteq = (await page.evaluate(`(${PAGE})(${JSON.stringify({ base: peer.url, id, jitterMs, leadMs: LEAD_MS, toneMs: TONE_MS })})`)) as Counters;
    const log = await peer.log(id);
    if (i > 0) rows.push({ jitterMs, lateMeanMs: log.lateMeanMs, lateMaxMs: log.lateMaxMs, neteq, earshot: replay(log) });
  }
} finally {
  await browser.close();
  peer.process.kill();
}

console.log(`One ${TONE_MS / 1000} s talkspurt per schedule (Opus, 20 ms packets, loopback); per-sample means over the talkspurt.\n`);
console.log('| send jitter | agent late, mean / max | NetEq delay / target | NetEq concealed | NetEq stretched | earshot delay / target | earshot concealed | earshot stretched |');
console.log('|---|---|---|---|---|---|---|---|');
for (const { jitterMs, lateMeanMs, lateMaxMs, neteq, earshot } of rows) {
  console.log(
    `| 0–${jitterMs} ms | ${lateMeanMs.toFixed(1)} / ${lateMaxMs.toFixed(0)} ms | ${perSample(neteq, neteq.delay)} / ${perSample(neteq, neteq.target)} ms | ${share(neteq)} % | ${stretch(neteq)} % | ${perSample(earshot, earshot.delay)} / ${perSample(earshot, earshot.target)} ms | ${share(earshot)} % | ${stretch(earshot)} % |`,
  );
}
