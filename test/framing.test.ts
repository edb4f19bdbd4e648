import { describe, expect, it } from 'vitest';
import { createFramer } from '../src/adapters/framing';

type Message = [data: string, event: string | undefined];

const utf8 = (s: string) => new TextEncoder().encode(s);

/** Feed `body` in the given chunks; returns the messages and the sizes of the lines skipped. */
function frame(framing: 'sse' | 'ndjson', chunks: Uint8Array[], maxLineBytes?: number) {
  const messages: Message[] = [];
  const skipped: number[] = [];
  const framer = createFramer(framing, (data, event) => messages.push([data, event]), (bytes) => skipped.push(bytes), maxLineBytes);
  for (const c of chunks) framer.push(c);
  framer.end();
  return { messages, skipped };
}

const whole = (bytes: Uint8Array) => [bytes];
const byteByByte = (bytes: Uint8Array) => Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
const splitAt = (bytes: Uint8Array, i: number) => [bytes.subarray(0, i), bytes.subarray(i)];
const sized = (bytes: Uint8Array, size: number) => {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
};

/** Every way of feeding `bytes` that the tests compare: whole, byte by byte, and each two-way split. */
function everyChunking(bytes: Uint8Array): Uint8Array[][] {
  const ways = [whole(bytes), byteByByte(bytes)];
  for (let i = 0; i <= bytes.length; i++) ways.push(splitAt(bytes, i));
  // Three-way splits around every CR catch a CR|LF pair meeting an empty chunk in between.
  bytes.forEach((b, i) => {
    if (b === 13) ways.push([bytes.subarray(0, i + 1), new Uint8Array(0), bytes.subarray(i + 1)]);
  });
  return ways;
}

describe('SSE framing', () => {
  // A BOM, every line-end style, comments, multi-line data, named events, ignored fields, an event
  // with no data, an empty data field, and 2-, 3- and 4-byte UTF-8 characters.
  const stream =
    '\uFEFF: keep-alive comment\n' +
    'event: greeting\r\n' +
    'data: héllo\r\n' +
    '\r\n' +
    'id: 7\rretry: 3000\rdata:no-space\rdata:  two spaces\r\r' +
    'data: line one\n' +
    'data\n' +
    'data: line three\n' +
    ': comment inside an event\n' +
    'data: 😀 and €\n\n' +
    'event: only-event\n\n' +
    'data:\n\n' +
    'unknown: field\n' +
    'data: after unknown\r\n\r\n' +
    'event: ping\ndata: {"type":"ping"}\n\n';

  const expected: Message[] = [
    ['héllo', 'greeting'],
    ['no-space\n two spaces', undefined],
    ['line one\n\nline three\n😀 and €', undefined],
    ['', undefined],
    ['after unknown', undefined],
    ['{"type":"ping"}', 'ping'],
  ];

  it('parses a stream with every line-end style, comments and multi-line data', () => {
    expect(frame('sse', whole(utf8(stream))).messages).toEqual(expected);
  });

  it('yields identical events however the bytes are chunked', () => {
    const bytes = utf8(stream);
    const ways = everyChunking(bytes);
    expect(ways.length).toBeGreaterThan(bytes.length);
    for (const chunks of ways) expect(frame('sse', chunks).messages).toEqual(expected);
  });

  it('treats a CR ending one chunk and a LF starting the next as one line end', () => {
    // Were they two line ends, the blank line between would dispatch "a" on its own.
    const { messages } = frame('sse', [utf8('data: a\r'), utf8('\ndata: b\r\n\r\n')]);
    expect(messages).toEqual([['a\nb', undefined]]);
  });

  it('treats CR CR as a line end followed by a blank line', () => {
    const { messages } = frame('sse', [utf8('data: a\r'), utf8('\rdata: b\r\r')]);
    expect(messages).toEqual([
      ['a', undefined],
      ['b', undefined],
    ]);
  });

  it('decodes a 4-byte character split inside its bytes', () => {
    const bytes = utf8('data: 🎧\n\n');
    expect(bytes.length).toBe(12);
    for (const cut of [7, 8, 9]) {
      expect(frame('sse', splitAt(bytes, cut)).messages).toEqual([['🎧', undefined]]);
    }
  });

  it('strips one leading BOM only', () => {
    const { messages } = frame('sse', byteByByte(utf8('\uFEFFdata: a\n\n\uFEFFdata: b\n\ndata: c\n\n')));
    // "\uFEFFdata" is a field name other than "data": ignored, as the spec says.
    expect(messages).toEqual([
      ['a', undefined],
      ['c', undefined],
    ]);
  });

  it('resets the event type after each dispatch and after a blank line without data', () => {
    const { messages } = frame('sse', whole(utf8('event: x\n\ndata: 1\n\nevent: y\ndata: 2\n\ndata: 3\n\n')));
    expect(messages).toEqual([
      ['1', undefined],
      ['2', 'y'],
      ['3', undefined],
    ]);
  });

  describe('end of stream', () => {
    it('dispatches an event whose closing blank line never came', () => {
      expect(frame('sse', whole(utf8('data: a\n\ndata: [DONE]\n'))).messages).toEqual([
        ['a', undefined],
        ['[DONE]', undefined],
      ]);
    });

    it('processes a last line that has no line end', () => {
      expect(frame('sse', whole(utf8('event: done\ndata: bye'))).messages).toEqual([['bye', 'done']]);
    });

    it('dispatches nothing for an event without data', () => {
      expect(frame('sse', whole(utf8('data: a\n\nevent: x\nid: 3\n'))).messages).toEqual([['a', undefined]]);
    });

    it('dispatches nothing twice when the stream ends with a blank line', () => {
      expect(frame('sse', whole(utf8('data: a\r\n\r\n'))).messages).toEqual([['a', undefined]]);
    });
  });

  describe('line cap', () => {
    it('drops a line over the cap and resumes after its line end', () => {
      const long = 'data: ' + 'x'.repeat(30); // 36 bytes
      const body = utf8(`data: before\n\n${long}\ndata: kept\n\ndata: after\n\n`);
      for (const chunks of [whole(body), byteByByte(body), sized(body, 7)]) {
        expect(frame('sse', chunks, 20).messages).toEqual([
          ['before', undefined],
          ['kept', undefined],
          ['after', undefined],
        ]);
      }
    });

    it('counts UTF-8 bytes, not characters', () => {
      const line = '€'.repeat(10); // 30 bytes, 10 characters
      const { messages } = frame('ndjson', sized(utf8(`${line}\nok\n`), 4), 20);
      expect(messages).toEqual([['ok', undefined]]);
    });

    it('keeps a line of exactly the cap and drops one byte more', () => {
      // 'é' is 2 bytes: 10 of them are exactly the cap; '€' is 3 bytes: 7 of them are one over.
      const body = utf8('x'.repeat(20) + '\n' + 'x'.repeat(21) + '\n' + 'é'.repeat(10) + '\n' + '€'.repeat(7) + '\n');
      for (const chunks of [whole(body), byteByByte(body)]) {
        expect(frame('ndjson', chunks, 20).messages).toEqual([
          ['x'.repeat(20), undefined],
          ['é'.repeat(10), undefined],
        ]);
      }
    });

    it('skips a line that crosses the cap over several chunks, also when the body ends inside it, and says so', () => {
      const messages: string[] = [];
      const skipped: number[] = [];
      const framer = createFramer('ndjson', (d) => messages.push(d), (bytes) => skipped.push(bytes), 10);
      framer.push(utf8('a\n' + 'y'.repeat(8)));
      framer.push(utf8('y'.repeat(8)));
      framer.push(utf8('yyyy\nb\n' + 'z'.repeat(11)));
      framer.end();
      expect(messages).toEqual(['a', 'b']);
      expect(skipped).toEqual([20, 11]);
    });

    it('does not let a character split at the drop leak into the next line', () => {
      // The long line ends in a 4-byte character cut by the chunk boundary where the cap is crossed.
      const body = utf8('x'.repeat(9) + '😀' + '\nnext\n');
      const { messages } = frame('ndjson', [body.subarray(0, 11), body.subarray(11)], 12);
      expect(messages).toEqual([['next', undefined]]);
    });
  });

  it('parses a 1 MB data line in small chunks', () => {
    const payload = JSON.stringify({ choices: [{ delta: { content: 'é'.repeat(1 << 19) } }] });
    const body = utf8(`data: ${payload}\n\ndata: [DONE]\n\n`);
    expect(body.length).toBeGreaterThan(1 << 20);
    for (const size of [1 << 16, 101]) {
      const { messages } = frame('sse', sized(body, size));
      expect(messages.length).toBe(2);
      expect(messages[0][0]).toBe(payload);
      expect(messages[1]).toEqual(['[DONE]', undefined]);
    }
  });
});

describe('NDJSON framing', () => {
  const body = '{"a":1}\n{"b":"é😀"}\r\n\n\r\n{"c":"x\ry"}\n{"d":4}';
  const expected: Message[] = [
    ['{"a":1}', undefined],
    ['{"b":"é😀"}', undefined],
    ['{"c":"x\ry"}', undefined],
    ['{"d":4}', undefined],
  ];

  it('splits at LF and CRLF, skips empty lines, keeps a lone CR, and ends the last line at end()', () => {
    expect(frame('ndjson', whole(utf8(body))).messages).toEqual(expected);
  });

  it('yields identical lines however the bytes are chunked', () => {
    for (const chunks of everyChunking(utf8(body))) expect(frame('ndjson', chunks).messages).toEqual(expected);
  });

  it('delivers nothing before end() for a line without its newline', () => {
    const messages: string[] = [];
    const framer = createFramer('ndjson', (d) => messages.push(d));
    framer.push(utf8('{"done":true}'));
    expect(messages).toEqual([]);
    framer.end();
    expect(messages).toEqual(['{"done":true}']);
  });
});
