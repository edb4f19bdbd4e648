import { describe, expect, it } from 'vitest';
import { parseServerTiming, readServerTiming } from '../src/otel/server-timing';

const TRACE = 'ab'.repeat(16);
const SPAN = 'cd'.repeat(8);

describe('Server-Timing', () => {
  it('parses metrics with dur and desc, tokens or quoted strings', () => {
    expect(parseServerTiming('db;dur=53, app;dur=47.2;desc="main, render;x", cache;desc=hit, miss')).toEqual([
      { name: 'db', dur: 53 },
      { name: 'app', dur: 47.2, desc: 'main, render;x' },
      { name: 'cache', desc: 'hit' },
      { name: 'miss' },
    ]);
  });

  it('takes the first dur and desc, unescapes quoted pairs, ignores unknown and malformed parameters', () => {
    expect(parseServerTiming('a;DUR=1;dur=2;desc="say \\"hi\\"";desc=x;foo=bar, b;dur=abc, c;dur=, ;dur=5, d ; dur = 7')).toEqual([
      { name: 'a', dur: 1, desc: 'say "hi"' },
      { name: 'b' },
      { name: 'c' },
      { name: 'd', dur: 7 },
    ]);
    expect(parseServerTiming('')).toEqual([]);
    expect(parseServerTiming('x;desc="unterminated, y;dur=3')).toEqual([{ name: 'x', desc: 'unterminated, y;dur=3' }]);
  });

  it('reads the server span and the server part of the wait', () => {
    expect(readServerTiming(`traceparent;desc="00-${TRACE}-${SPAN}-01", db;dur=12, inference;dur=120.5, total;dur=130`)).toEqual({
      span: { traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true },
      durations: [
        ['db', 12],
        ['inference', 120.5],
        ['total', 130],
      ],
      // The longest duration: a total covers its parts.
      serverMs: 130,
    });
    expect(readServerTiming('traceparent;desc=00-' + TRACE + '-' + SPAN + '-00').span?.traceFlags).toBe(0);
  });

  it('ignores invalid trace context, negative and repeated durations, and caps how many it keeps', () => {
    const zero = `traceparent;desc="00-${'0'.repeat(32)}-${SPAN}-01"`;
    expect(readServerTiming(`${zero}, traceparent;desc="junk", a;dur=-3, a;dur=4, a;dur=5`)).toEqual({
      durations: [['a', 4]],
      serverMs: 4,
    });
    const many = Array.from({ length: 12 }, (_, i) => `m${i};dur=${i}`).join(', ');
    const timing = readServerTiming(many);
    expect(timing.durations.map(([name]) => name)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    expect(timing.serverMs).toBe(7);
    expect(readServerTiming('')).toEqual({ durations: [] });
  });
});
