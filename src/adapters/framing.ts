import type { Framing } from '../core/types';

/**
 * Splits a fetch body into messages as its chunks arrive. Chunks may be split at any byte,
 * including inside a UTF-8 character or between the CR and LF of one line end.
 */
export interface Framer {
  push(chunk: Uint8Array): void;
  /** The body ended cleanly: deliver what is complete. Call once, and not after a failed read. */
  end(): void;
}

/** Lines longer than this many bytes are skipped: a peer that never ends a line cannot exhaust memory. */
export const MAX_LINE_BYTES = 1 << 24;

const STREAM = { stream: true };
/** An SSE `data` or `event` field: the name alone, or followed by a colon, at most one space and the value. */
const FIELD = /^(?:(data)|event)(?:$|: ?)(.*)/s;

/**
 * A framer for `sse` (WHATWG EventSource parsing) or `ndjson` (one message per non-blank line,
 * trimmed).
 * `chunk` framing needs none: transports hand each body chunk to the adapter as it is.
 *
 * Line ends are found in the bytes (CR and LF never occur inside a UTF-8 sequence), so each byte is
 * looked at once and the cap counts bytes exactly; the decoded start of an unterminated line is kept
 * as a string that grows by concatenation, never re-scanned. A line over `maxLineBytes` is skipped
 * and its size passed to `onSkipped`. The callbacks must not throw: a throw loses the rest of that chunk.
 */
export function createFramer(
  framing: Exclude<Framing, 'chunk'>,
  onMessage: (data: string, event?: string) => void,
  onSkipped?: (bytes: number) => void,
  maxLineBytes = MAX_LINE_BYTES,
): Framer {
  const sse = framing === 'sse';
  // One decoder in stream mode for the whole body: it strips a leading BOM once and joins
  // characters split across chunks. Invalid bytes just before a line end surface as U+FFFD at the
  // start of the next line, identically however the body is chunked.
  let decoder = new TextDecoder();
  let line = '';
  let lineBytes = 0;
  let afterCr = false;
  /** The event being built: each `data` field as a line feed and the value, and its type. */
  let data = '';
  let event = '';

  const onLine = (l: string) => {
    if (!sse) {
      // Whitespace around a JSON text is insignificant: trimming drops the CR of a CRLF line end.
      l = l.trim();
      if (l) onMessage(l);
    } else if (l) {
      // Only `data` and `event` fields matter; other fields and comments (`: text`) are ignored.
      const field = FIELD.exec(l);
      if (field?.[1]) data += '\n' + field[2];
      else if (field) event = field[2];
    } else {
      // Blank line: dispatch. Per spec an event whose data buffer is empty is not dispatched.
      const d = data;
      const e = event;
      data = event = '';
      if (d) onMessage(d.slice(1), e || undefined);
    }
  };

  /**
   * Bytes [from, to) of `chunk` belong to the current line (none without a chunk); `complete` when a
   * line end follows. A line over the cap is skipped, whether or not its end is in sight, so the
   * outcome does not depend on how the body was chunked.
   */
  const take = (chunk: Uint8Array | undefined, from: number, to: number, complete?: boolean) => {
    lineBytes += to - from;
    const over = lineBytes > maxLineBytes;
    if (over) line = '';
    else line += decoder.decode(chunk?.subarray(from, to), STREAM);
    if (complete) {
      const l = line;
      const bytes = lineBytes;
      line = '';
      lineBytes = 0;
      if (!over) return onLine(l);
      // A skipped line leaves a fresh decoder: the old one may hold part of one of its characters.
      decoder = new TextDecoder('utf-8', { ignoreBOM: true });
      onSkipped?.(bytes);
    }
  };

  return {
    push(chunk) {
      let start = 0;
      let cr = afterCr;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        // CRLF is one line end, also when the LF starts the next chunk. NDJSON ends lines at LF only.
        const crlf = cr && b === 10;
        cr = sse && b === 13;
        if (b === 10 || cr) {
          if (!crlf) take(chunk, start, i, true);
          start = i + 1;
        }
      }
      afterCr = cr;
      take(chunk, start, chunk.length);
    },

    end() {
      line += decoder.decode();
      if (lineBytes) take(undefined, 0, 0, true);
      // The spec discards an event that lacks its closing blank line at the end of the stream. A
      // monitor should not: the server ended the body cleanly after sending the data (some servers
      // omit the last blank line, e.g. after `data: [DONE]`), and lenient client parsers hand such
      // data to the app, so dropping it would report content or an end that did arrive as missing.
      if (sse) onLine('');
    },
  };
}
