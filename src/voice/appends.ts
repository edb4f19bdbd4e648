/**
 * The server's view of the user's speech, mapped to the client's clock. A server that detects the end
 * of speech itself (OpenAI Realtime's `input_audio_buffer.speech_stopped`) names it by its position
 * in the audio it was sent (`audio_end_ms`); the client knows when it sent each piece of that audio,
 * so the position maps back to a `performance.now()` time.
 */

/** Appends remembered per connection: at 20 ms or more of audio each (the usual), the last 10 s or more. */
const CAPACITY = 512;

/**
 * The audio one connection sent: for each of its latest CAPACITY appends, the audio sent so far once
 * it left (ms of media, cumulative) and when it left. A ring of two fixed arrays: constant memory,
 * nothing allocated per append.
 */
export class AppendLog {
  readonly #ends = new Float64Array(CAPACITY);
  readonly #times = new Float64Array(CAPACITY);
  #count = 0;
  #totalMs = 0;

  /** An append of `ms` of audio left at `at`. */
  add(ms: number, at: number): void {
    const i = this.#count++ % CAPACITY;
    this.#ends[i] = this.#totalMs += ms;
    this.#times[i] = at;
  }

  /**
   * When the audio at `positionMs` (from the first append) was sent: the time its append left, less
   * the audio after the position in that append, which an app streaming its microphone in real time
   * captured before the append left; never before the previous append left. A position past the
   * audio sent maps to the last append. Undefined with nothing logged, or before the oldest append
   * the log still holds.
   */
  timeOf(positionMs: number): number | undefined {
    const ends = this.#ends;
    const times = this.#times;
    const oldest = Math.max(0, this.#count - CAPACITY);
    let k = this.#count - 1;
    // The first append that ends at or after the position: it holds the audio just before it.
    while (k > oldest && ends[(k - 1) % CAPACITY] >= positionMs) k--;
    if (k < 0 || (k === oldest && k > 0)) return undefined;
    const i = k % CAPACITY;
    const at = times[i] - Math.max(0, ends[i] - positionMs);
    return k > 0 ? Math.max(at, times[(k - 1) % CAPACITY]) : at;
  }
}

/** Bytes of audio in a sent `input_audio_buffer.append` event (its base64 `audio`), found without parsing the event. */
export function appendedBytes(s: string): number | undefined {
  if (!s.includes('"input_audio_buffer.append"')) return undefined;
  const key = s.indexOf('"audio"');
  const colon = key < 0 ? -1 : s.indexOf(':', key);
  const open = colon < 0 ? -1 : s.indexOf('"', colon);
  const close = open < 0 ? -1 : s.indexOf('"', open + 1);
  if (close < 0) return undefined;
  // Without its `=` padding, base64 holds 3 bytes per 4 characters.
  const end = s.charCodeAt(close - 2) === 61 ? close - 2 : s.charCodeAt(close - 1) === 61 ? close - 1 : close;
  return ((end - open - 1) * 3) >> 2;
}

/**
 * `audio_end_ms` of a received `input_audio_buffer.speech_stopped` event. The quoted name is the
 * event's type: inside another event's text its quotes would be escaped.
 */
export function speechStoppedMs(s: string): number | undefined {
  if (!s.includes('"input_audio_buffer.speech_stopped"')) return undefined;
  try {
    const ms = (JSON.parse(s) as { audio_end_ms?: unknown }).audio_end_ms;
    return typeof ms === 'number' && ms >= 0 && ms < Infinity ? ms : undefined;
  } catch {
    return undefined;
  }
}
