import { afterEach, describe, expect, it, vi } from 'vitest';
import { adapters, normalize, toAdapter } from '../src/adapters';
import { createFramer } from '../src/adapters/framing';
import type { Adapter, Classification, MessageInfo, StreamContext, WireData } from '../src/core/types';

/** A verdict as a plain object with only its set fields, so `toEqual` compares exactly. */
function verdict(c: Classification): Partial<MessageInfo> {
  const m = normalize(c, { kind: 'noise' });
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined));
}

/** A fetch body through the adapter's framing and the adapter, the way the fetch transport does. */
function body(adapter: Adapter, text: string) {
  const ctx: StreamContext = {};
  const out: Partial<MessageInfo>[] = [];
  const framing = adapter.framing;
  if (framing !== 'sse' && framing !== 'ndjson') throw new Error('not a framed adapter');
  const framer = createFramer(framing, (data, event) => {
    ctx.event = event;
    out.push(verdict(adapter.received(data, ctx)));
  });
  // Small chunks, so messages also straddle chunk boundaries.
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += 13) framer.push(bytes.subarray(i, i + 13));
  framer.end();
  return { out, ctx };
}

/** Discrete messages (WebSocket frames) received through the adapter. */
function messages(adapter: Adapter, list: WireData[], ctx: StreamContext = {}) {
  return list.map((m) => verdict(adapter.received(m, ctx)));
}

const sse = (events: unknown[]) =>
  events.map((e) => `data: ${typeof e === 'string' ? e : JSON.stringify(e)}\n\n`).join('');

const CONTENT = { kind: 'content' };
const NOISE = { kind: 'noise' };
const END = { kind: 'end' };

describe('adapters.sse: OpenAI chat completions', () => {
  const chunk = (delta: object, finish: string | null = null, extra: object = {}) => ({
    id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
    object: 'chat.completion.chunk',
    created: 1741569952,
    model: 'gpt-4.1-2025-04-14',
    service_tier: 'default',
    system_fingerprint: 'fp_e0d0d2d3e1',
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    usage: null,
    ...extra,
  });
  const stream = sse([
    chunk({ role: 'assistant', content: '', refusal: null }),
    chunk({ content: 'Hello' }),
    chunk({ content: '!' }),
    chunk({ content: ' How can I help?' }),
    chunk({}, 'stop'),
    {
      id: 'chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG',
      object: 'chat.completion.chunk',
      created: 1741569952,
      model: 'gpt-4.1-2025-04-14',
      choices: [],
      usage: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 },
    },
    '[DONE]',
  ]);

  it('classifies role-only and empty deltas as noise, text deltas as content, usage and [DONE]', () => {
    const { out, ctx } = body(adapters.sse(), stream);
    expect(out).toEqual([NOISE, CONTENT, CONTENT, CONTENT, NOISE, { kind: 'noise', usageTokens: 10 }, END]);
    expect(ctx.requireEnd).toBe(true);
  });

  it('counts reasoning, tool-call and legacy completion deltas as content', () => {
    const { out } = body(
      adapters.sse(),
      sse([
        chunk({ role: 'assistant', reasoning_content: 'Let me think' }),
        chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] }),
        chunk({ tool_calls: [] }),
        { id: 'cmpl-1', object: 'text_completion', choices: [{ text: ' world', index: 0, finish_reason: null }] },
        { id: 'cmpl-1', object: 'text_completion', choices: [{ text: '', index: 0, finish_reason: 'length' }] },
        '[DONE]',
      ]),
    );
    expect(out).toEqual([CONTENT, CONTENT, NOISE, CONTENT, NOISE, END]);
  });

  it('takes usage from a chunk that also carries content', () => {
    const { out } = body(adapters.sse(), sse([chunk({ content: 'Hi' }, 'stop', { usage: { completion_tokens: 1 } })]));
    expect(out).toEqual([{ kind: 'content', usageTokens: 1 }]);
  });

  it('reports an error payload with its message', () => {
    const { out } = body(
      adapters.sse(),
      sse([chunk({ content: 'Hi' }), { error: { message: 'The server had an error', type: 'server_error', code: null } }]),
    );
    expect(out).toEqual([CONTENT, { kind: 'error', error: 'The server had an error' }]);
  });

  it('survives wrong types without throwing', () => {
    const { out, ctx } = body(
      adapters.sse(),
      sse([
        { choices: 'not an array' },
        { choices: [null, 5, { delta: { content: 5 } }], usage: { completion_tokens: '12' } },
        { choices: [], usage: { completion_tokens: -3 } },
        { choices: [], usage: { completion_tokens: 1e999 } },
        '{"choices": [ truncated',
      ]),
    );
    // The first is an unknown shape in a not-yet-recognised stream; after that the stream is
    // OpenAI's, so invalid JSON is noise and invalid counts are dropped.
    expect(out).toEqual([CONTENT, NOISE, NOISE, NOISE, NOISE]);
    expect(ctx.requireEnd).toBe(true);
  });
});

describe('adapters.sse: Anthropic Messages', () => {
  const stream = [
    'event: message_start',
    'data: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}}',
    '',
    'event: content_block_start',
    'data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}',
    '',
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Simple greeting."}}',
    '',
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}}',
    '',
    'event: content_block_stop',
    'data: {"type":"content_block_stop","index":0}',
    '',
    'event: content_block_start',
    'data: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}',
    '',
    'event: ping',
    'data: {"type": "ping"}',
    '',
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hello"}}',
    '',
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"!"}}',
    '',
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\": \\"San Fra"}}',
    '',
    'event: content_block_delta',
    'data: {"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":""}}',
    '',
    'event: content_block_stop',
    'data: {"type":"content_block_stop","index":1}',
    '',
    'event: message_delta',
    'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}',
    '',
    'event: message_stop',
    'data: {"type":"message_stop"}',
    '',
    '',
  ].join('\n');

  it('classifies a full message stream', () => {
    const { out, ctx } = body(adapters.sse(), stream);
    expect(out).toEqual([
      NOISE, // message_start
      NOISE, // content_block_start
      CONTENT, // thinking
      NOISE, // signature
      NOISE, // content_block_stop
      NOISE, // content_block_start
      NOISE, // ping
      CONTENT,
      CONTENT,
      CONTENT, // partial_json
      NOISE, // empty partial_json
      NOISE, // content_block_stop
      { kind: 'noise', usageTokens: 15 },
      END,
    ]);
    expect(ctx.requireEnd).toBe(true);
  });

  it('reports an error event', () => {
    const { out } = body(
      adapters.sse(),
      'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n',
    );
    expect(out).toEqual([{ kind: 'error', error: 'Overloaded' }]);
  });
});

describe('adapters.sse: OpenAI Responses API', () => {
  it('counts output deltas only, and ends with usage at response.completed', () => {
    const ev = (type: string, rest: object = {}) => `event: ${type}\ndata: ${JSON.stringify({ type, ...rest })}\n\n`;
    const { out, ctx } = body(
      adapters.sse(),
      ev('response.created', { response: { id: 'resp_1', status: 'in_progress' } }) +
        ev('response.in_progress', { response: { id: 'resp_1', status: 'in_progress' } }) +
        ev('response.output_item.added', { output_index: 0, item: { type: 'message' } }) +
        ev('response.content_part.added', { output_index: 0, content_index: 0 }) +
        ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: 'Hi' }) +
        ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: ' there' }) +
        ev('response.output_text.done', { text: 'Hi there' }) +
        ev('response.completed', { response: { id: 'resp_1', status: 'completed', usage: { output_tokens: 3 } } }),
    );
    expect(out).toEqual([
      { kind: 'request' },
      NOISE,
      NOISE,
      NOISE,
      CONTENT,
      CONTENT,
      NOISE,
      { kind: 'end', usageTokens: 3 },
    ]);
    expect(ctx.requireEnd).toBe(true);
  });
});

describe('adapters.sse: generic streams', () => {
  it('treats any non-empty event as content and does not require an end', () => {
    const { out, ctx } = body(
      adapters.sse(),
      'data: plain text\n\ndata:\n\nevent: update\ndata: {"progress": 0.5}\n\ndata: {not json\n\n: ping\n\n',
    );
    expect(out).toEqual([CONTENT, NOISE, CONTENT, CONTENT]);
    expect(ctx.requireEnd).toBeUndefined();
  });

  it('reports an `event: error` with its text', () => {
    const { out } = body(adapters.sse(), 'event: error\ndata: upstream timed out\n\nevent: error\ndata: {"message":"boom"}\n\n');
    expect(out).toEqual([
      { kind: 'error', error: 'upstream timed out' },
      { kind: 'error', error: 'boom' },
    ]);
  });
});

describe('adapters.ndjson', () => {
  it('classifies an Ollama /api/generate stream', () => {
    const { out, ctx } = body(
      adapters.ndjson(),
      [
        '{"model":"llama3.2","created_at":"2025-01-10T14:30:00.1Z","response":"The","done":false}',
        '{"model":"llama3.2","created_at":"2025-01-10T14:30:00.2Z","response":" sky","done":false}',
        '{"model":"llama3.2","created_at":"2025-01-10T14:30:00.3Z","response":"","done":false}',
        '{"model":"llama3.2","created_at":"2025-01-10T14:30:00.4Z","response":"","done":true,"done_reason":"stop","total_duration":5043500667,"prompt_eval_count":26,"eval_count":290,"eval_duration":4709213000}',
      ].join('\n'),
    );
    expect(out).toEqual([CONTENT, CONTENT, NOISE, { kind: 'end', usageTokens: 290 }]);
    expect(ctx.requireEnd).toBe(true);
  });

  it('classifies an Ollama /api/chat stream with thinking and tool calls', () => {
    const { out } = body(
      adapters.ndjson(),
      [
        '{"model":"qwen3","message":{"role":"assistant","content":"","thinking":"Hmm"},"done":false}',
        '{"model":"qwen3","message":{"role":"assistant","content":"Hello"},"done":false}',
        '{"model":"qwen3","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{}}}]},"done":false}',
        '{"model":"qwen3","message":{"role":"assistant","content":""},"done":false}',
        '{"model":"qwen3","message":{"role":"assistant","content":""},"done":true,"eval_count":"many"}',
        '',
      ].join('\r\n'),
    );
    expect(out).toEqual([CONTENT, CONTENT, CONTENT, NOISE, END]);
  });

  it('handles errors, generic objects, typed objects and invalid lines', () => {
    const { out, ctx } = body(
      adapters.ndjson(),
      [
        '{"text":"hi"}',
        '{"token":"a"}',
        '{"text":""}',
        '{"type":"status","text":"working"}',
        'not json',
        '[1,2]',
        '{"truncated":',
        '{"error":"model \\"x\\" not found"}',
      ].join('\n'),
    );
    expect(out).toEqual([CONTENT, CONTENT, NOISE, NOISE, NOISE, NOISE, NOISE, { kind: 'error', error: 'model "x" not found' }]);
    expect(ctx.requireEnd).toBeUndefined();
  });
});

describe('adapters.openaiRealtime', () => {
  const ev = (type: string, rest: object = {}) => JSON.stringify({ type, event_id: 'event_1', ...rest });
  const audio = (bytes: number) => Buffer.alloc(bytes, 7).toString('base64');

  it('classifies a server-VAD voice turn (GA names) with exact audio durations', () => {
    const ctx: StreamContext = {};
    const out = messages(
      adapters.openaiRealtime(),
      [
        ev('session.created', { session: { id: 'sess_1' } }),
        ev('input_audio_buffer.speech_started', { audio_start_ms: 1000 }),
        ev('input_audio_buffer.speech_stopped', { audio_end_ms: 2400 }),
        ev('input_audio_buffer.committed'),
        ev('response.created', { response: { id: 'resp_1', status: 'in_progress' } }),
        ev('response.output_item.added'),
        ev('response.output_audio.delta', { response_id: 'resp_1', delta: audio(4800) }),
        ev('response.output_audio_transcript.delta', { delta: 'Hello' }),
        ev('response.output_audio.delta', { delta: audio(4801) }),
        ev('response.output_audio.delta', { delta: audio(4802) }),
        ev('response.output_audio.delta', { delta: '' }),
        ev('response.output_audio.done'),
        ev('rate_limits.updated'),
        ev('response.done', { response: { id: 'resp_1', status: 'completed', usage: { output_tokens: 42 } } }),
      ],
      ctx,
    );
    expect(out).toEqual([
      NOISE,
      NOISE,
      { kind: 'request' },
      NOISE,
      { kind: 'request' },
      NOISE,
      { kind: 'content', tokens: 0, audioMs: 100 },
      CONTENT,
      { kind: 'content', tokens: 0, audioMs: 4801 / 48 }, // "==" padding
      { kind: 'content', tokens: 0, audioMs: 4802 / 48 }, // "=" padding
      NOISE,
      NOISE,
      NOISE,
      { kind: 'end', usageTokens: 42 },
    ]);
    expect(ctx.requireEnd).toBe(true);
  });

  it('understands the beta event names', () => {
    const out = messages(adapters.openaiRealtime(), [
      ev('response.audio.delta', { delta: audio(960) }),
      ev('response.audio_transcript.delta', { delta: 'Hi' }),
      ev('response.text.delta', { delta: 'Hi' }),
      ev('response.function_call_arguments.delta', { delta: '{"a"' }),
      ev('conversation.item.input_audio_transcription.delta', { delta: 'user words' }),
      ev('response.done', { response: { status: 'incomplete', usage: { output_tokens: 7 } } }),
      ev('response.audio.delta', { delta: '=' }),
      ev('response.audio.delta', { delta: 42 }),
    ]);
    expect(out).toEqual([
      { kind: 'content', tokens: 0, audioMs: 20 },
      CONTENT,
      CONTENT,
      CONTENT,
      NOISE,
      { kind: 'end', usageTokens: 7 },
      { kind: 'content', tokens: 0, audioMs: 0 }, // malformed base64: no bytes, no negative duration
      NOISE,
    ]);
  });

  it('fails cancelled and failed responses and error events', () => {
    const out = messages(adapters.openaiRealtime(), [
      ev('response.done', {
        response: { status: 'cancelled', status_details: { type: 'cancelled', reason: 'turn_detected' }, usage: { output_tokens: 5 } },
      }),
      ev('response.done', {
        response: { status: 'failed', status_details: { type: 'failed', error: { type: 'server_error', message: 'Internal error' } } },
      }),
      ev('response.done', { response: { status: 'failed' } }),
      ev('error', { error: { type: 'invalid_request_error', code: 'invalid_value', message: 'Invalid value' } }),
    ]);
    expect(out).toEqual([
      { kind: 'error', usageTokens: 5, error: 'cancelled: turn_detected' },
      { kind: 'error', error: 'failed: Internal error' },
      { kind: 'error', error: 'failed' },
      { kind: 'error', error: 'Invalid value' },
    ]);
  });

  it('reads events from binary frames, and treats Blobs and garbage as noise', () => {
    const bytes = new TextEncoder().encode(ev('response.output_text.delta', { delta: 'x' }));
    const out = messages(adapters.openaiRealtime(), [bytes.buffer, bytes, new Blob([bytes]), 'garbage', '{"type":', '{}']);
    expect(out).toEqual([CONTENT, CONTENT, NOISE, NOISE, NOISE, NOISE]);
  });

  it('classifies sent events: response.create is a request, the rest noise', () => {
    const a = adapters.openaiRealtime();
    const ctx: StreamContext = {};
    const sent = (m: WireData) => verdict(a.sent!(m, ctx));
    expect(sent(ev('response.create', { response: { modalities: ['audio', 'text'] } }))).toEqual({ kind: 'request' });
    expect(sent(ev('input_audio_buffer.append', { audio: audio(9600) }))).toEqual(NOISE);
    expect(sent(ev('session.update', { session: { instructions: 'never say "response.create"' } }))).toEqual(NOISE);
    expect(sent(new Uint8Array([1, 2, 3]))).toEqual(NOISE);
    expect(ctx.requireEnd).toBe(true);
  });
});

describe('adapters.json', () => {
  interface Msg {
    kind: string;
    text?: string;
    n?: number;
    ms?: number;
    message?: string;
  }
  const a = adapters.json<Msg>({
    typeField: 'kind',
    request: ['user_turn'],
    content: ['token', 'audio'],
    end: ['turn_done'],
    error: ['failure'],
    tokens: (m) => m.n,
    audioMs: (m) => m.ms,
  });

  it('classifies by the named type field, with counts from the callbacks', () => {
    const out = messages(a, [
      '{"kind":"user_turn"}',
      '{"kind":"token","text":"a","n":2}',
      '{"kind":"token","text":"b"}',
      '{"kind":"audio","ms":40,"n":0}',
      '{"kind":"token","n":-1,"ms":null}',
      '{"kind":"turn_done"}',
      '{"kind":"failure","message":"quota exceeded"}',
      '{"kind":"failure"}',
      '{"kind":"stats"}',
      '{"type":"token"}',
      new Uint8Array([0x7b, 0x00, 0xff]),
      new Float32Array(480),
      'not json',
    ]);
    expect(out).toEqual([
      { kind: 'request' },
      { kind: 'content', tokens: 2 },
      CONTENT,
      { kind: 'content', tokens: 0, audioMs: 40 },
      CONTENT,
      END,
      { kind: 'error', error: 'quota exceeded' },
      { kind: 'error', error: 'failure' },
      NOISE,
      NOISE,
      NOISE,
      NOISE,
      NOISE,
    ]);
  });

  it('classifies sent messages: listed requests only', () => {
    expect(verdict(a.sent!('{"kind":"user_turn"}', {}))).toEqual({ kind: 'request' });
    expect(verdict(a.sent!('{"kind":"token"}', {}))).toEqual(NOISE);
    expect(verdict(a.sent!(new ArrayBuffer(640), {}))).toEqual(NOISE);
  });

  it('json: an unknown option (a misspelt list) is rejected, naming it', () => {
    expect(() => adapters.json({ contents: ['delta'] } as never)).toThrow(/adapters\.json: unknown option "contents"/);
  });

  it('defaults the type field to `type` and accepts missing lists', () => {
    const b = adapters.json({ content: ['delta'] });
    expect(messages(b, ['{"type":"delta"}', '{"type":"done"}'])).toEqual([CONTENT, NOISE]);
  });
});

describe('adapters.pcm', () => {
  it('turns binary messages into audio content by byte length', () => {
    const a = adapters.pcm({ sampleRate: 24000 });
    const out = messages(a, [new ArrayBuffer(4800), new Int16Array(240), new Uint8Array(new ArrayBuffer(100), 10, 48), new Blob([new Uint8Array(960)]), 'metadata']);
    expect(out).toEqual([
      { kind: 'content', tokens: 0, audioMs: 100 },
      { kind: 'content', tokens: 0, audioMs: 10 },
      { kind: 'content', tokens: 0, audioMs: 1 },
      { kind: 'content', tokens: 0, audioMs: 20 },
      NOISE,
    ]);
    expect(a.framing).toBe('chunk');
    expect(a.sent).toBeUndefined();
  });

  it('honours channels and float32', () => {
    const a = adapters.pcm({ sampleRate: 48000, channels: 2, format: 'float32' });
    expect(verdict(a.received(new Float32Array(960 * 2), {}))).toEqual({ kind: 'content', tokens: 0, audioMs: 20 });
  });

  it('rejects a sample rate that would measure nothing', () => {
    expect(() => adapters.pcm({ sampleRate: 0 })).toThrow(RangeError);
    expect(() => adapters.pcm({ sampleRate: NaN })).toThrow(RangeError);
    expect(() => adapters.pcm({ sampleRate: 16000, channels: -1 })).toThrow(RangeError);
  });
});

describe('adapters.raw', () => {
  it('makes every received message content and leaves sent ones to the default request', () => {
    const a = adapters.raw();
    expect(messages(a, ['x', new ArrayBuffer(0), new Blob([])])).toEqual([CONTENT, CONTENT, CONTENT]);
    expect(a.framing).toBe('chunk');
    expect(a.sent).toBeUndefined();
  });
});

describe('toAdapter', () => {
  it('wraps a function with the direction of each message', () => {
    const calls: string[] = [];
    const a = toAdapter((data, direction) => {
      calls.push(`${direction}:${String(data)}`);
      return direction === 'out' ? 'request' : 'content';
    });
    const ctx: StreamContext = {};
    expect(a.received('a', ctx)).toBe('content');
    expect(a.sent!('b', ctx)).toBe('request');
    expect(calls).toEqual(['in:a', 'out:b']);
  });

  it('returns an adapter object as is, and raw for anything else', () => {
    const sse = adapters.sse();
    expect(toAdapter(sse)).toBe(sse);
    expect(toAdapter(undefined as never).name).toBe('raw');
    expect(toAdapter({ name: 'broken' } as never).name).toBe('raw');
  });
});

describe('normalize', () => {
  it('turns every classification into a complete, sanitised verdict in one reused object', () => {
    const out: MessageInfo = { kind: 'noise' };
    expect(normalize('content', out)).toBe(out);
    expect(out).toEqual({ kind: 'content' });
    normalize({ kind: 'content', tokens: 3, audioMs: 20, usageTokens: 9 }, out);
    expect(out).toEqual({ kind: 'content', tokens: 3, audioMs: 20, usageTokens: 9 });
    // Fields of the previous verdict do not linger.
    normalize('end', out);
    expect(out).toEqual({ kind: 'end', tokens: undefined, audioMs: undefined, usageTokens: undefined, error: undefined });
    expect(normalize(undefined, out).kind).toBe('noise');
    expect(normalize('bogus' as never, out).kind).toBe('noise');
    expect(normalize(null as never, out).kind).toBe('noise');
    expect(normalize({ kind: 'content', tokens: NaN, audioMs: -5, usageTokens: Infinity }, out)).toEqual({ kind: 'content' });
    expect(normalize({ kind: 'content', tokens: '2' as never }, out).tokens).toBeUndefined();
    expect(normalize({ kind: 'error', error: 'x'.repeat(1000) }, out).error).toBe('x'.repeat(256));
    expect(normalize({ kind: 'error', error: 42 as never }, out).error).toBeUndefined();
  });
});

describe('huge messages', () => {
  afterEach(() => vi.restoreAllMocks());

  it('parses a 16 MB JSON message once and plain text never', () => {
    const parse = vi.spyOn(JSON, 'parse');
    const big = JSON.stringify({ choices: [{ delta: { content: 'x'.repeat(16 << 20) } }] });
    const ctx: StreamContext = {};
    expect(verdict(adapters.sse().received(big, ctx))).toEqual(CONTENT);
    expect(parse).toHaveBeenCalledTimes(1);
    expect(verdict(adapters.sse().received('x'.repeat(16 << 20), {}))).toEqual(CONTENT);
    expect(verdict(adapters.ndjson().received('x'.repeat(16 << 20), {}))).toEqual(NOISE);
    expect(verdict(adapters.openaiRealtime().sent!('{"type":"input_audio_buffer.append","audio":"' + 'A'.repeat(16 << 20) + '"}', {}))).toEqual(NOISE);
    expect(parse).toHaveBeenCalledTimes(1);
  });
});
