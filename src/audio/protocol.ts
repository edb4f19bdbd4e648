import type { JitterBufferOptions, JitterBufferStats } from './jitter-buffer';

/** Name the player's AudioWorkletProcessor is registered under. */
export const PROCESSOR = 'earshot-player';

/**
 * Commands from the main thread. The processor applies them in order, each once its render clock
 * reaches the command's time: through the shared ring, or as `Command` messages. Samples are
 * Float32 (F32), Int16 (I16) or PCM16 little-endian bytes (U8), as `JitterBuffer.push` takes them.
 */
export const F32 = 0;
export const I16 = 1;
export const U8 = 2;
export const END = 3;
export const FLUSH = 4;
/** Requests answered at once, outside the ordered commands. */
export const STATS = 5;
export const CLOSE = 6;

export type Samples = Float32Array | Int16Array | Uint8Array;
/** A command as a message: times in ms of the render clock; seq and media ms NaN when absent. */
export type Command = [op: number, at: number, seq: number, mediaMs: number, samples?: Samples];
/** One message: the commands and requests (STATS, CLOSE) of one task, in order. */
export type Batch = Array<Command | [op: number]>;

/**
 * Reports from the processor, `Report` messages; kinds below REPLY index `EVENTS`. ENDED: the turn
 * played out after end(), or stopped after flush(), reported with its counters as a `stats` event.
 */
export const PLAYING = 0;
export const UNDERRUN = 1;
export const ENDED = 2;
/** The answer to STATS. */
export const REPLY = 3;
export const EVENTS = ['playing', 'underrun', 'stats'] as const;
/** `at`: render-clock ms of the event (NaN for REPLY); `turn`: the player turn it belongs to (1 for the first). */
export type Report = [kind: number, at: number, turn: number, stats?: JitterBufferStats];

export interface ProcessorOptions extends Omit<JitterBufferOptions, 'outputSampleRate'> {
  /** The shared ring's buffer, when the page is cross-origin isolated. */
  ring?: SharedArrayBuffer;
}
