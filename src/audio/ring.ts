type Resizable = ArrayBuffer & { resize(bytes: number): void };
const Resizable = ArrayBuffer as unknown as new (bytes: number, options: { maxByteLength: number }) => Resizable;

/** Record header: four float64 slots (op + 8 × payload bytes, time, seq, media ms). */
const HEADER = 32;

/** A buffer for a ring of at least `bytes` bytes. */
export const ringBuffer = (bytes: number, Buffer?: typeof ArrayBuffer): ArrayBufferLike =>
  new (Buffer ?? SharedArrayBuffer)(8 + 2 ** Math.ceil(Math.log2(Math.max(64, bytes))));

/**
 * Single-producer, single-consumer ring of player commands over one buffer (a SharedArrayBuffer
 * between the main thread and the audio thread): neither side blocks, the consumer never allocates.
 * Layout: two Int32 positions (write, read; free-running byte counts that wrap at 2^32), then a
 * power-of-two data area of records, each a header and its payload padded to 8 bytes, so no header
 * slot straddles the end. The writer and the reader each construct their side over the same buffer.
 */
class Ring {
  protected declare readonly _pos: Int32Array;
  protected declare readonly _data: Uint8Array;
  protected declare readonly _slots: Float64Array;

  constructor(buffer: ArrayBufferLike) {
    this._slots = new Float64Array(buffer, 8);
    this._data = new Uint8Array(buffer, 8);
    this._pos = new Int32Array(buffer, 0, 2);
  }
}

export class RingWriter extends Ring {
  /** Appends a record; false, writing nothing, when it does not fit now. */
  _write(op: number, at: number, seq: number, mediaMs: number, payload?: Uint8Array): boolean {
    const n = payload ? payload.length : 0;
    const m = this._data.length - 1;
    const s = this._slots;
    const w = this._pos[0];
    const size = HEADER + ((n + 7) & -8);
    if (size > m + 1 - ((w - Atomics.load(this._pos, 1)) >>> 0)) return false;
    s[(w & m) >> 3] = op + n * 8;
    s[((w + 8) & m) >> 3] = at;
    s[((w + 16) & m) >> 3] = seq;
    s[((w + 24) & m) >> 3] = mediaMs;
    if (payload) {
      const o = (w + HEADER) & m;
      const first = Math.min(n, m + 1 - o);
      this._data.set(payload.subarray(0, first), o);
      this._data.set(payload.subarray(first), 0);
    }
    // Publishes the record: the reader's Atomics.load of the position orders the writes above.
    Atomics.store(this._pos, 0, (w + size) | 0);
    return true;
  }
}

export class RingReader extends Ring {
  /** The record last read: op, time, seq, media ms... */
  declare _op: number;
  declare _at: number;
  declare _seq: number;
  declare _mediaMs: number;
  /** ...and its payload, as length-tracking views of one resizable buffer (no view per record). */
  declare readonly _u8: Uint8Array<Resizable>;
  declare readonly _i16: Int16Array;
  declare readonly _f32: Float32Array;

  constructor(buffer: ArrayBufferLike) {
    super(buffer);
    const scratch = new Resizable(0, { maxByteLength: this._data.length });
    this._f32 = new Float32Array(scratch);
    this._u8 = new Uint8Array(scratch);
    this._i16 = new Int16Array(scratch);
  }

  /** Time of the next record, Infinity when there is none. */
  _peek(): number {
    const r = this._pos[1];
    return r === Atomics.load(this._pos, 0) ? Infinity : this._slots[((r + 8) & (this._data.length - 1)) >> 3];
  }

  /** Reads the next record (check with _peek first) into the fields above and frees its room. */
  _read(): void {
    const m = this._data.length - 1;
    const s = this._slots;
    const r = this._pos[1];
    const v = s[(r & m) >> 3];
    const op = v % 8;
    const n = (v - op) / 8;
    this._op = op;
    this._at = s[((r + 8) & m) >> 3];
    this._seq = s[((r + 16) & m) >> 3];
    this._mediaMs = s[((r + 24) & m) >> 3];
    this._u8.buffer.resize(n);
    for (let i = 0; i < n; i++) this._u8[i] = this._data[(r + HEADER + i) & m];
    Atomics.store(this._pos, 1, (r + HEADER + ((n + 7) & -8)) | 0);
  }
}
