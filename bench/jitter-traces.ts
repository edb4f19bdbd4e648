import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One streamed audio response as the client received it (see traces/README.md). */
export interface Trace {
  name: string;
  model?: string;
  sampleRate: number;
  chunkMs: number;
  oracleStartupMs: number;
  chunks: TraceChunk[];
}

export interface TraceChunk {
  seq: number;
  mediaMs: number;
  durMs: number;
  sendMs: number;
  arrivalMs: number;
}

export const FAMILIES = [
  'paced-lan',
  'paced-wifi',
  'paced-cellular',
  'tts-fast',
  'tts-realtime',
  'tts-overload',
] as const;
export type Family = (typeof FAMILIES)[number];

export const familyOf = (name: string): string => name.replace(/-(\d+|s\d+)$/, '');

export const TRACE_DIR = new URL('../../shared/traces/', import.meta.url).pathname;

export function loadTraces(dir = TRACE_DIR): Trace[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Trace);
}

/** Hindsight oracle: the smallest fixed startup delay after which nominal playout never runs dry. */
export function oracleStartup(chunks: TraceChunk[]): number {
  const first = chunks[0].arrivalMs;
  let worst = 0;
  for (const c of chunks) worst = Math.max(worst, c.arrivalMs - (first + c.mediaMs));
  return worst;
}

/** Small seeded PRNG (mulberry32) so synthetic traces are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Synthetic traces of the six families of traces/README.md, written from the models the shipped
 * traces describe (base delays, jitter distributions, stall rates, synthesis speed, sentence pauses,
 * in-order delivery) and checked against them, with independent seeds: a check that the buffer is
 * tuned to the kind of network, not to the shipped files. What the README leaves open (when the
 * handover comes, how long a response lasts) is drawn at random.
 */
export function synthTrace(family: Family, seed: number): Trace {
  const rand = rng(seed * 7919 + family.length * 104729);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const gamma2 = (scale: number): number => -scale * Math.log((1 - rand()) * (1 - rand()));
  const uniform = (a: number, b: number): number => a + (b - a) * rand();
  const durMs = Math.round(uniform(10000, 20000) / 20) * 20;
  const n = durMs / 20;
  const step = uniform(0.3, 0.7) * n;
  const chunks: TraceChunk[] = [];
  let send = 0;
  let arrival = 0;
  for (let i = 0; i < n; i++) {
    const mediaMs = i * 20;
    let net: number;
    switch (family) {
      case 'paced-lan':
        send = 40 + mediaMs;
        net = 5 + Math.abs(normal());
        break;
      case 'paced-wifi':
        send = 60 + mediaMs;
        net = 20 + gamma2(4) + (rand() < 0.01 ? uniform(50, 200) : 0);
        break;
      case 'paced-cellular':
        send = 120 + mediaMs;
        net = 60 + (i >= step ? 80 : 0) + Math.exp(Math.log(14) + 0.6 * normal());
        if (rand() < 0.004) net += uniform(150, 400);
        break;
      case 'tts-fast':
        send = i ? send + 20 * 0.3 * (1 + 0.3 * normal()) : 180;
        net = 30 + gamma2(5);
        break;
      case 'tts-realtime':
        // The pause for the next sentence comes before the chunk after each 3 s sentence.
        send = i ? send + 20 * 0.9 * (1 + 0.19 * normal()) + (mediaMs > 3000 && mediaMs % 3000 === 20 ? uniform(150, 400) : 0) : 220;
        net = 25 + gamma2(4);
        break;
      case 'tts-overload': {
        const rtf = mediaMs >= 4000 && mediaMs < 7000 ? 1.15 : 0.7;
        send = i ? send + 20 * rtf * (1 + 0.15 * normal()) : 250;
        net = 30 + gamma2(5);
        break;
      }
    }
    // In-order delivery: a late chunk holds back the ones behind it, which then follow it within
    // tens of microseconds (as the shipped traces show), not in the same instant.
    arrival = Math.max(arrival + 0.05 * rand(), send + net);
    chunks.push({ seq: i, mediaMs, durMs: 20, sendMs: +send.toFixed(3), arrivalMs: +arrival.toFixed(3) });
  }
  return { name: `${family}-s${seed}`, sampleRate: 24000, chunkMs: 20, oracleStartupMs: oracleStartup(chunks), chunks };
}
