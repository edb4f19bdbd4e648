import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ringBuffer, RingReader, RingWriter } from '../src/audio/ring';

/** Record i of a deterministic stream: fields and payload derived from i, sizes 0..3000 bytes. */
const record = (i: number): [number, number, number, number, Uint8Array] => {
  const n = (i * 7919) % 3001;
  const payload = new Uint8Array(n);
  for (let j = 0; j < n; j++) payload[j] = (i + j * 31) & 255;
  return [i % 5, i * 1.5, i, -i, payload];
};

function expectRecord(r: RingReader, i: number): void {
  const [op, at, seq, mediaMs, payload] = record(i);
  expect([r._op, r._at, r._seq, r._mediaMs]).toEqual([op, at, seq, mediaMs]);
  expect(r._u8.length).toBe(payload.length);
  expect(Buffer.from(r._u8).equals(Buffer.from(payload))).toBe(true);
}

describe('Ring (single thread)', () => {
  it('carries records of every size in order across many wrap-arounds', () => {
    const buffer = ringBuffer(8192, ArrayBuffer);
    const w = new RingWriter(buffer);
    const r = new RingReader(buffer);
    let written = 0;
    let read = 0;
    while (read < 500) {
      while (written < 500 && w._write(...record(written))) written++;
      expect(r._peek()).toBe(record(read)[1]);
      r._read();
      expectRecord(r, read++);
    }
    expect(r._peek()).toBe(Infinity);
  });

  it('refuses a record that does not fit, writing nothing, and takes it once room is freed', () => {
    const buffer = ringBuffer(64, ArrayBuffer); // 64 data bytes: header 32 + payload 32
    const w = new RingWriter(buffer);
    const r = new RingReader(buffer);
    expect(w._write(0, 1, 2, 3, new Uint8Array(32).fill(7))).toBe(true);
    expect(w._write(1, 9, 9, 9)).toBe(false);
    expect(w._write(0, 1, 2, 3, new Uint8Array(33))).toBe(false);
    r._read();
    expect([r._op, r._at, r._seq, r._mediaMs, r._u8.length, r._u8[31]]).toEqual([0, 1, 2, 3, 32, 7]);
    expect(r._peek()).toBe(Infinity);
    expect(w._write(4, 5, NaN, NaN)).toBe(true);
    r._read();
    expect([r._op, r._at, r._seq, r._mediaMs, r._u8.length]).toEqual([4, 5, NaN, NaN, 0]);
  });

  it('keeps working when the free-running positions wrap at 2^32', () => {
    const buffer = ringBuffer(4096, ArrayBuffer);
    new Int32Array(buffer, 0, 2).fill(-3000); // 2^32 - 3000 bytes written and read so far
    const w = new RingWriter(buffer);
    const r = new RingReader(buffer);
    for (let i = 0; i < 40; i++) {
      expect(w._write(...record(i))).toBe(true);
      r._read();
      expectRecord(r, i);
    }
    expect(new Int32Array(buffer, 0, 2)[0]).toBeGreaterThan(0);
  });

  it('views each payload as Float32 and Int16 without a new view per record', () => {
    const buffer = ringBuffer(1024, ArrayBuffer);
    const w = new RingWriter(buffer);
    const r = new RingReader(buffer);
    const { _f32: f32, _i16: i16 } = r;
    const samples = new Float32Array([0.5, -0.25, 1]);
    w._write(0, 0, NaN, NaN, new Uint8Array(samples.buffer));
    r._read();
    expect(Array.from(r._f32)).toEqual([0.5, -0.25, 1]);
    w._write(1, 0, NaN, NaN, new Uint8Array(new Int16Array([-32768, 12345]).buffer));
    r._read();
    expect(Array.from(r._i16)).toEqual([-32768, 12345]);
    expect(r._f32).toBe(f32);
    expect(r._i16).toBe(i16);
  });
});

describe('Ring (two threads)', () => {
  it('delivers 20000 records intact and in order from the main thread to a worker', async () => {
    const N = 20000;
    const buffer = ringBuffer(16384) as SharedArrayBuffer;
    const require = createRequire(import.meta.url);
    // The consumer spins on _peek like the audio thread's quanta, and checks every field and byte.
    const consumer = `
      const { parentPort, workerData } = require('node:worker_threads');
      require(${JSON.stringify(require.resolve('tsx/cjs/api'))}).register();
      const { RingReader } = require(${JSON.stringify(fileURLToPath(new URL('../src/audio/ring.ts', import.meta.url)))});
      const r = new RingReader(workerData);
      let bad = 0;
      const deadline = Date.now() + 30000;
      for (let i = 0; i < ${N} && Date.now() < deadline; ) {
        if (r._peek() === Infinity) continue;
        r._read();
        const n = (i * 7919) % 3001;
        let ok = r._op === i % 5 && r._at === i * 1.5 && r._seq === i && r._mediaMs === -i && r._u8.length === n;
        for (let j = 0; ok && j < n; j++) ok = r._u8[j] === ((i + j * 31) & 255);
        if (!ok) bad++;
        i++;
        if (i === ${N}) parentPort.postMessage({ read: i, bad });
      }
      parentPort.postMessage({ read: -1, bad });
    `;
    const worker = new Worker(consumer, { eval: true, workerData: buffer });
    const result = new Promise<{ read: number; bad: number }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    const w = new RingWriter(buffer);
    const deadline = Date.now() + 30000;
    let full = 0;
    for (let i = 0; i < N && Date.now() < deadline; ) {
      if (w._write(...record(i))) i++;
      else full++;
    }
    const { read, bad } = await result;
    await worker.terminate();
    expect({ read, bad }).toEqual({ read: N, bad: 0 });
    // The ring (16 KiB against 30 MB of records) was full many times: the wrap and full paths ran.
    expect(full).toBeGreaterThan(0);
  }, 60_000);
});
