import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapters, createMonitor, type Monitor, type Sink, type TurnReport } from '../src/index';
import { combineSinks, voiceTurns, type VoiceTurnReport } from '../src/microphone';
import { otel } from '../src/otel';

const traceparent = (n: number) => `00-${'a'.repeat(32)}-${String(n).padStart(16, '0')}-01`;

/** A sink that logs each hook call as `name:hook`, answering where `answers` says. */
function logging(name: string, log: string[], answers: Partial<Record<keyof Sink, unknown>> = {}): Sink {
  const hook = (h: keyof Sink) => () => {
    log.push(`${name}:${h}`);
    return answers[h];
  };
  return {
    attach: hook('attach') as Sink['attach'],
    start: hook('start') as Sink['start'],
    turn: hook('turn') as Sink['turn'],
    connection: hook('connection') as Sink['connection'],
    headers: hook('headers') as Sink['headers'],
    websocket: hook('websocket') as Sink['websocket'],
    message: hook('message') as Sink['message'],
    response: hook('response') as Sink['response'],
  };
}

describe('combineSinks', () => {
  it('calls every hook of every sink in order, with the same arguments, the sink as `this`', () => {
    const log: string[] = [];
    const seen: unknown[] = [];
    const counter = {
      n: 0,
      turn(this: { n: number }, report: TurnReport) {
        this.n++;
        seen.push(report.id);
      },
    };
    const combined = combineSinks(logging('a', log), undefined, counter, logging('b', log));
    const monitor = createMonitor({ sink: combined });
    monitor.turn().start().end();
    expect(log).toEqual(['a:attach', 'b:attach', 'a:start', 'b:start', 'a:turn', 'b:turn']);
    expect([counter.n, seen]).toEqual([1, ['t1']]);
  });

  it('answers with the first defined answer of each hook, still calling the sinks after it', () => {
    const log: string[] = [];
    const combined = combineSinks(
      logging('a', log),
      logging('b', log, { start: traceparent(2), headers: { traceparent: 'b' }, websocket: ['wss://b', []], message: 'b' }),
      logging('c', log, { start: traceparent(3), headers: { traceparent: 'c' }, message: 'c' }),
    );
    expect(combined.start!('t1', undefined, undefined, 0)).toBe(traceparent(2));
    expect(combined.headers!('https://x.test', traceparent(2))).toEqual({ traceparent: 'b' });
    expect(combined.websocket!('wss://x.test', [], traceparent(2))).toEqual(['wss://b', []]);
    expect(combined.message!('{}', traceparent(2))).toBe('b');
    expect(combined.response!('t1', new Headers())).toBeUndefined();
    expect(log.filter((l) => l.startsWith('c:'))).toEqual(['c:start', 'c:headers', 'c:websocket', 'c:message', 'c:response']);
  });

  it('guards each sink: the others run, and the first failure reaches the monitor as its own error', () => {
    const errors: unknown[] = [];
    const reports: string[] = [];
    const first = new Error('first');
    const combined = combineSinks(
      {
        turn: () => {
          throw first;
        },
      },
      {
        turn: () => {
          throw new Error('second');
        },
      },
      { turn: (r) => void reports.push(r.id) },
    );
    const monitor = createMonitor({ sink: combined, onError: (e) => errors.push(e) });
    monitor.turn().start().end();
    expect([reports, errors, monitor.internalErrors]).toEqual([['t1'], [first], 1]);
  });

  it('keeps an answer when another sink fails, so a failing sink does not cost the trace context', () => {
    const combined = combineSinks(
      {
        start: () => {
          throw new Error('voice bug');
        },
      },
      { start: () => traceparent(7) },
    );
    const monitor = createMonitor({ sink: combined });
    const turn = monitor.turn().start();
    expect([turn.traceparent, monitor.internalErrors]).toEqual([traceparent(7), 0]);
    // With no answer, the failure is rethrown and counted; a failure throwing `undefined` counts too.
    const failing = combineSinks({
      start: () => {
        throw undefined;
      },
    });
    expect(() => failing.start!('t1', undefined, undefined, 0)).toThrow();
  });

  it('attaches the monitor to every sink', () => {
    const attached: Monitor[] = [];
    const combined = combineSinks({ attach: (m) => void attached.push(m) }, {}, { attach: (m) => void attached.push(m) });
    const monitor = createMonitor({ sink: combined });
    expect(attached).toEqual([monitor, monitor]);
  });
});

describe('combineSinks with otel()', () => {
  const spans = new InMemorySpanExporter();
  beforeAll(() => trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })));
  afterAll(() => trace.disable());

  it('traces each turn and carries its context in the request while voice turns are reported', async () => {
    const telemetry = otel({ serviceName: 'voice-app', webVitals: false, messageField: 'traceparent' });
    const voice = voiceTurns();
    const voiceReports: VoiceTurnReport[] = [];
    voice.onVoiceTurn((r) => voiceReports.push(r));
    const sink = combineSinks(telemetry, voice);
    const monitor = createMonitor({ sink });
    const connection = monitor.connection('websocket', 'wss://api.test/v1/realtime', { adapter: voice.adapter(adapters.openaiRealtime()) });
    voice.speechEnded(performance.now() - 5);
    const turn = connection.sent(JSON.stringify({ type: 'response.create' }));
    connection.received(JSON.stringify({ type: 'response.output_text.delta', delta: 'hi' }));
    connection.received(JSON.stringify({ type: 'response.done', response: { status: 'completed' } }));
    connection.close('clean');
    // otel's message hook, through the combined sink, puts the turn's traceparent in the request.
    const carried = sink.message!(JSON.stringify({ type: 'response.create' }), turn!.traceparent!);
    expect(JSON.parse(carried as string).traceparent).toBe(turn!.traceparent);
    expect(turn!.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(spans.getFinishedSpans().map((s) => s.name)).toEqual(['earshot.turn', 'earshot.connection']);
    expect(voiceReports.map((r) => [r.turnId, r.source])).toEqual([['t1', 'vad']]);
    await telemetry.shutdown();
  });
});
