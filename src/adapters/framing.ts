import type { Framing } from '../core/types';

/**
 * Splits a fetch body into messages as its chunks arrive. Chunks may be split at any byte,
 * including inside a UTF-8 character or between the CR and LF of one line end.
 */
export interface Framer {
  push(chunk: Uint8Array): void;
  /** The body ended cleanly: deliver what is complete. Call once, and not after a failed read. */
  end(): void;
  /** UTF-8 bytes of lines dropped for exceeding the line cap. */
  readonly discardedBytes: number;
}

/** Lines longer than this many bytes are dropped: a peer that never ends a line cannot exhaust memory. */
export const MAX_LINE_BYTES = 1 << 24;

const STREAM = { stream: true };

/**
 * A framer for `sse` (WHATWG EventSource parsing) or `ndjson` (one message per non-empty line).
 * `chunk` framing needs none: transports hand each body chunk to the adapter as it is.
 *
 * Line ends are found in the bytes (CR and LF never occur inside a UTF-8 sequence), so each byte is
 * scanned once and the cap counts bytes exactly; the decoded start of an unterminated line is kept
 * as a string that grows by concatenation, never re-scanned. `onMessage` must not throw: a throw
 * loses the rest of that chunk.
 */
export function createFramer(
  framing: Exclude<Framing, 'chunk'>,
  onMessage: (data: string, event: string | undefined) => void,
  maxLineBytes = MAX_LINE_BYTES,
): Framer {
  const sse = framing === 'sse';
  // One decoder in stream mode for the whole body: it strips a leading BOM once and joins
  // characters split across chunks. Invalid bytes just before a line end surface as U+FFFD at the
  // start of the next line, identically however the body is chunked.
  let decoder = new TextDecoder();
  let line = '';
  let lineBytes = 0;
  let skipping = false;
  let afterCr = false;
  let discarded = 0;
  let data = '';
  let hasData = false;
  let event = '';

  const onLine = (l: string) => {
    if (!sse) {
      if (l.charCodeAt(l.length - 1) === 13) l = l.slice(0, -1);
      if (l) onMessage(l, undefined);
      return;
    }
    if (!l) {
      // Blank line: dispatch. Per spec an event whose data buffer is empty is not dispatched.
      const d = data;
      const e = event;
      data = event = '';
      if (hasData) {
        hasData = false;
        onMessage(d, e || undefined);
      }
      return;
    }
    const colon = l.indexOf(':');
    if (colon === 0) return;
    const field = colon < 0 ? l : l.slice(0, colon);
    const value = colon < 0 ? '' : l.slice(l.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
    if (field === 'data') {
      data = hasData ? data + '\n' + value : value;
      hasData = true;
    } else if (field === 'event') event = value;
  };

  const endLine = () => {
    const l = line;
    const skipped = skipping;
    if (skipped) discarded += lineBytes;
    line = '';
    lineBytes = 0;
    skipping = false;
    if (!skipped) onLine(l);
  };

  /** Bytes [from, to) of `chunk` belong to the current line; `complete` when a line end follows. */
  const take = (chunk: Uint8Array, from: number, to: number, complete: boolean) => {
    lineBytes += to - from;
    if (!skipping && lineBytes > maxLineBytes) {
      // Drop the line, whether or not its end is in sight, so the outcome does not depend on how the
      // body was chunked. A fresh decoder: the old one may hold part of a character of this line.
      skipping = true;
      line = '';
      decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    }
    if (!skipping && to > from) line += decoder.decode(chunk.subarray(from, to), STREAM);
    if (complete) endLine();
  };

  return {
    push(chunk) {
      const n = chunk.length;
      let pos = 0;
      if (afterCr && n) {
        afterCr = false;
        if (chunk[0] === 10) pos = 1;
      }
      // Next LF and CR at or after `pos`, cached so a chunk of many lines is scanned once;
      // -2 means not searched yet, -1 none left. NDJSON ends lines at LF only.
      let lf = -2;
      let cr = sse ? -2 : -1;
      for (;;) {
        if (lf !== -1 && lf < pos) lf = chunk.indexOf(10, pos);
        if (cr !== -1 && cr < pos) cr = chunk.indexOf(13, pos);
        const end = lf < 0 ? cr : cr < 0 || lf < cr ? lf : cr;
        if (end < 0) break;
        take(chunk, pos, end, true);
        pos = end + 1;
        if (end === cr) {
          // CRLF is one line end, also when the LF starts the next chunk.
          if (pos === n) afterCr = true;
          else if (chunk[pos] === 10) pos++;
        }
      }
      if (pos < n) take(chunk, pos, n, false);
    },

    end() {
      if (!skipping) line += decoder.decode();
      if (lineBytes) endLine();
      // The spec discards an event that lacks its closing blank line at the end of the stream. A
      // monitor should not: the server ended the body cleanly after sending the data (some servers
      // omit the last blank line, e.g. after `data: [DONE]`), and lenient client parsers hand such
      // data to the app, so dropping it would report content or an end that did arrive as missing.
      if (sse) onLine('');
    },

    get discardedBytes() {
      return discarded + (skipping ? lineBytes : 0);
    },
  };
}
