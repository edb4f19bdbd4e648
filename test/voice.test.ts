import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { adapters, createMonitor, type AdapterLike, type Monitor, type WireData } from '../src/index';
import { combineSinks, voiceTurns, type VoiceTurnReport, type VoiceTurns, type VoiceTurnsOptions } from '../src/microphone';
import { AppendLog, appendedBytes, speechStoppedMs } from '../src/voice/appends';

/** The monitor's clock and the voice side's: one `performance.now()`, moved by the test. */
let clock = 0;
beforeEach(() => {
  clock = 0;
  vi.spyOn(performance, 'now').mockImplementation(() => clock);
});
afterEach(() => vi.restoreAllMocks());

function setup(options?: VoiceTurnsOptions): { voice: VoiceTurns; monitor: Monitor; reports: VoiceTurnReport[] } {
  const voice = voiceTurns(options);
  const reports: VoiceTurnReport[] = [];
  voice.onVoiceTurn((r) => reports.push(r));
  const monitor = createMonitor({ sink: voice });
  return { voice, monitor, reports };
}

/** A summary of a voice report: turn, end of speech, source, total and parts, in that order. */
const row = (r: VoiceTurnReport) => [r.turnId, r.speechEndAt, r.source, r.voiceToVoiceMs, Object.values(r.parts)];

/** `ms` of 24 kHz PCM16 (48 bytes per ms) as an append event's base64, zeros. */
const append = (ms: number) =>
  JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(ms * 48).toString('base64') });
const stopped = (audioEndMs: number) =>
  JSON.stringify({ type: 'input_audio_buffer.speech_stopped', event_id: 'e1', audio_end_ms: audioEndMs, item_id: 'i1' });
const audioDelta = (ms: number) =>
  JSON.stringify({ type: 'response.output_audio.delta', delta: Buffer.alloc(ms * 48).toString('base64') });

describe('voice turns: pairing an end of speech with a turn', () => {
  it('reports the voice-to-voice latency of the next turn, split into its five stages', () => {
    const { voice, monitor, reports } = setup();
    voice.speechEnded(1000, 'vad');
    clock = 1100;
    const turn = monitor.turn().start();
    clock = 1150;
    turn.byte();
    clock = 1180;
    turn.content(1, 20);
    // The player's first push asks for the active turn: the reply's audio is queued now.
    clock = 1190;
    expect(voice.activeTurn()).toBe(turn);
    clock = 1195;
    voice.activeTurn();
    turn.audioHeard(1250);
    turn.end();
    expect(reports.map(row)).toEqual([['t1', 1000, 'vad', 250, [100, 50, 30, 10, 60]]]);
    expect(reports[0].turn.id).toBe('t1');
    expect(reports[0].turn.ttfaMs).toBe(150);
  });

  it('leaves turns with no end of speech before them unreported, and connections aside', () => {
    const { voice, monitor, reports } = setup();
    clock = 10;
    monitor.turn().start().end();
    const connection = monitor.connection('websocket', 'wss://x.test/', { adapter: adapters.raw() });
    // An end of speech after a turn started belongs to a later turn, not to that one.
    clock = 20;
    connection.sent('request');
    voice.speechEnded(25);
    clock = 30;
    connection.received('reply');
    clock = 40;
    connection.sent('request');
    connection.close('clean');
    expect(reports.map((r) => [r.turnId, r.speechEndAt, r.parts.speechToRequestMs, r.parts.requestToFirstByteMs])).toEqual([
      ['t3', 25, 15, undefined],
    ]);
  });

  it('takes the latest end of speech before the turn, and each end pairs once', () => {
    const { voice, monitor, reports } = setup();
    voice.speechEnded(100);
    voice.speechEnded(300, 'server');
    clock = 400;
    monitor.turn().start().end();
    clock = 500;
    monitor.turn().start().end();
    expect(reports.map(row)).toEqual([['t1', 300, 'server', undefined, [100, undefined, undefined, undefined, undefined]]]);
  });

  it('gives a late end of speech to the turn that started after it, if that turn has none', () => {
    const { voice, monitor, reports } = setup();
    clock = 1000;
    const first = monitor.turn().start();
    // A VAD slower than the server: its end of speech, at 900, comes after the turn started.
    clock = 1300;
    voice.speechEnded(900, 'vad');
    // Another end before the turn started does not replace the one it took: it waits for the next turn.
    voice.speechEnded(950, 'vad');
    first.end();
    clock = 2000;
    monitor.turn().start().end();
    expect(reports.map((r) => [r.turnId, r.speechEndAt, r.parts.speechToRequestMs])).toEqual([
      ['t1', 900, 100],
      ['t2', 950, 1050],
    ]);
  });

  it('ignores ends of speech that are not times', () => {
    const { voice, monitor, reports } = setup();
    voice.speechEnded(NaN);
    voice.speechEnded(Infinity);
    voice.speechEnded('5' as unknown as number);
    clock = 10;
    monitor.turn().start().end();
    expect(reports).toEqual([]);
  });

  it('reports the parts it saw: content without a player, and no voice-to-voice before audio is heard', () => {
    const { voice, monitor, reports } = setup();
    voice.speechEnded(0);
    clock = 100;
    const turn = monitor.turn().start();
    clock = 180;
    turn.content(1);
    clock = 200;
    turn.end();
    expect(reports.map(row)).toEqual([['t1', 0, 'vad', undefined, [100, 80, 0, undefined, undefined]]]);
  });

  it('stops calling a callback after its undo; a failing callback does not stop the others', () => {
    const { voice, monitor, reports } = setup();
    const thrown: unknown[] = [];
    vi.stubGlobal('queueMicrotask', (task: () => void) => {
      try {
        task();
      } catch (error) {
        thrown.push(error);
      }
    });
    const failure = new Error('app bug');
    const undo = voice.onVoiceTurn(() => {
      throw failure;
    });
    const late: VoiceTurnReport[] = [];
    voice.onVoiceTurn((r) => late.push(r));
    voice.speechEnded(0);
    monitor.turn().start().end();
    undo();
    voice.speechEnded(1);
    clock = 5;
    monitor.turn().start().end();
    vi.unstubAllGlobals();
    expect(thrown).toEqual([failure]);
    expect([reports.length, late.length, monitor.internalErrors]).toEqual([2, 2, 0]);
  });
});

describe('voice turns: the server end of speech mapped to local time', () => {
  /** A Realtime connection whose app appends 100 ms of audio at 1000, 1100, 1200 and 1300. */
  function realtime(options?: VoiceTurnsOptions, inner: AdapterLike = adapters.openaiRealtime()) {
    const { voice, monitor, reports } = setup(options);
    const connection = monitor.connection('websocket', 'wss://api.test/v1/realtime', { adapter: voice.adapter(inner) });
    for (const at of [1000, 1100, 1200, 1300]) {
      clock = at;
      // Appends are not requests: no turn starts.
      expect(connection.sent(append(100))).toBeUndefined();
    }
    return { voice, monitor, reports, connection };
  }

  /** The server's VAD stops at `audioEndMs`, its event arrives at 1700; the reply follows. */
  function reply(connection: ReturnType<typeof realtime>['connection'], audioEndMs: number) {
    clock = 1700;
    connection.received(stopped(audioEndMs));
    clock = 1720;
    connection.received(JSON.stringify({ type: 'response.created', response: { id: 'r1' } }));
    clock = 1760;
    connection.received(audioDelta(40));
    clock = 1800;
    connection.received(JSON.stringify({ type: 'response.done', response: { status: 'completed' } }));
  }

  it('places audio_end_ms at the time the audio there was sent: its append, less the audio after it', () => {
    const { reports, connection } = realtime();
    reply(connection, 250);
    // 250 ms falls in the third append (200-300 ms, sent at 1200): 50 ms of it came later.
    expect(reports.map((r) => [r.turnId, r.speechEndAt, r.source, r.parts.speechToRequestMs, r.parts.requestToFirstByteMs, r.parts.firstByteToFirstContentMs])).toEqual([
      ['t1', 1150, 'server', 550, 0, 60],
    ]);
  });

  it('subtracts the server silence, and maps a position at an append boundary to the append that ends there', () => {
    const { reports, connection } = realtime({ serverSilenceMs: 100 });
    reply(connection, 300);
    expect(reports.map((r) => r.speechEndAt)).toEqual([1100]);
  });

  it('reads other audio formats by their bytes per ms, and wraps a function adapter', () => {
    const inner = (data: WireData, direction: 'in' | 'out') => {
      const type = JSON.parse(data as string).type as string;
      if (direction === 'out') return type === 'response.create' ? 'request' : 'noise';
      return type === 'input_audio_buffer.speech_stopped' ? 'request' : type.endsWith('delta') ? 'content' : type === 'response.done' ? 'end' : 'noise';
    };
    // G.711: 8 bytes per ms, so each 4800-byte append holds 600 ms.
    const { reports, connection } = realtime({ inputBytesPerMs: 8 }, inner);
    reply(connection, 1500);
    // 1500 ms is in the third append (1200-1800 ms, sent at 1200): 300 ms after it, 300 before,
    // which would be before the second append left (1100): no earlier than that.
    expect(reports.map((r) => [r.speechEndAt, r.parts.firstByteToFirstContentMs])).toEqual([[1100, 60]]);
    // The inner adapter still decides requests.
    clock = 1900;
    expect(connection.sent(JSON.stringify({ type: 'response.create' }))?.id).toBe('t2');
  });

  it('maps nothing on a connection that appended no audio, or for a position the log no longer holds', () => {
    const { voice, monitor, reports } = setup();
    const connection = monitor.connection('websocket', 'wss://api.test/', { adapter: voice.adapter(adapters.openaiRealtime()) });
    clock = 50;
    connection.received(stopped(10));
    connection.close('clean');
    expect(reports).toEqual([]);
    const log = new AppendLog();
    expect(log.timeOf(0)).toBeUndefined();
    // 600 appends of 10 ms, one every 10 ms: the log keeps the latest 512.
    for (let i = 1; i <= 600; i++) log.add(10, i * 10);
    expect(log.timeOf(5995)).toBe(5995);
    expect(log.timeOf(7000)).toBe(6000);
    expect(log.timeOf(1000)).toBe(1000);
    // In the oldest append kept (the 89th, 880-890 ms), whose start is no longer known.
    expect(log.timeOf(885)).toBeUndefined();
  });

  it('never maps a position before the previous append left (audio sent in a burst)', () => {
    const log = new AppendLog();
    for (let i = 0; i < 3; i++) log.add(100, 1000);
    expect([log.timeOf(50), log.timeOf(150), log.timeOf(300)]).toEqual([950, 1000, 1000]);
  });

  it('reads an append size from its base64 and an end from its event, and nothing else', () => {
    const msg = (audio: string) => JSON.stringify({ event_id: 'e', type: 'input_audio_buffer.append', audio });
    expect([msg('AAAA'), msg('AAA='), msg('AA=='), msg(''), append(20)].map(appendedBytes)).toEqual([3, 2, 1, 0, 960]);
    expect(appendedBytes('{"type": "input_audio_buffer.append", "audio" : "AAAAAAAA"}')).toBe(6);
    expect(appendedBytes('{"type":"input_audio_buffer.append"}')).toBeUndefined();
    expect(appendedBytes('{"type":"input_audio_buffer.commit"}')).toBeUndefined();
    expect(speechStoppedMs(stopped(1234))).toBe(1234);
    // Named in another event's text, its quotes are escaped: not that event.
    expect(speechStoppedMs(JSON.stringify({ type: 'response.output_text.delta', delta: '"input_audio_buffer.speech_stopped"', audio_end_ms: 5 }))).toBeUndefined();
    expect(speechStoppedMs('{"type":"input_audio_buffer.speech_stopped","audio_end_ms":-1}')).toBeUndefined();
    expect(speechStoppedMs('{"type":"input_audio_buffer.speech_stopped",')).toBeUndefined();
  });
});

describe('voice turns with another sink', () => {
  it('works beside a tracing sink through combineSinks, and credits queued audio through activeTurn', () => {
    const started: string[] = [];
    const voice = voiceTurns();
    const reports: VoiceTurnReport[] = [];
    voice.onVoiceTurn((r) => reports.push(r));
    const monitor = createMonitor({
      sink: combineSinks({ start: (id) => (started.push(id), `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`) }, voice),
    });
    voice.speechEnded(0);
    clock = 10;
    const turn = monitor.turn().start();
    expect([turn.traceparent, started]).toEqual([`00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, ['t1']]);
    // The player binds the turn it is given and waits for its first sample.
    clock = 30;
    turn.content(1, 20);
    const bound = voice.activeTurn()!;
    bound.awaitAudio();
    turn.end();
    expect(reports).toEqual([]);
    bound.audioHeard(70);
    expect(reports.map(row)).toEqual([['t1', 0, 'vad', 70, [10, 20, 0, 0, 40]]]);
  });
});
