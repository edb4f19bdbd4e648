import type { Classification, StreamContext, WireData } from '../core/types';
import { errorText, fail, has, hasAny, info, type Json, parseJson } from './wire';

/** Anthropic Messages stream events: `message_*`, `content_block_*` and `ping`. */
const ANTHROPIC = /^((message|content_block)_(start|delta|stop)|ping)$/;

/** OpenAI `response.*` events that end a response, by name. */
const TERMINAL = ['done', 'completed', 'incomplete', 'failed'];

/**
 * Fields whose non-empty value (see `has`) is output, in every format: chat completion choices and
 * their deltas, Anthropic deltas, Ollama objects and their `message`, and generic objects.
 */
export const OUTPUT = [
  'text',
  'content',
  'delta',
  'token',
  'response',
  'thinking',
  'reasoning_content',
  'tool_calls',
  'refusal',
  'partial_json',
];

/**
 * Media ms in base64 audio of 24 kHz mono PCM16 (the Realtime API's default format): 48 bytes per
 * ms; the unpadded length holds 3 bytes per 4 characters.
 */
function pcm16Ms(b64: string): number {
  const pad = b64.indexOf('=', b64.length - 2);
  return (((pad < 0 ? b64.length : pad) * 3) >> 2) / 48;
}

/**
 * A JSON event of a known LLM stream format, or undefined when its shape is not recognised. One
 * classifier for the sse, ndjson and openaiRealtime adapters, so each understands every format
 * whatever carries it. Recognising a format whose turns end with a terminal event sets
 * `ctx.requireEnd`, so a stream that stops before that event is a drop.
 *
 * - `{ "error": ... }` or `{ "type": "error", ... }`: an error, with its message.
 * - Anthropic Messages: `content_block_delta` with non-empty text, JSON or thinking is content,
 *   `message_delta` carries `usage.output_tokens`, `message_stop` ends the turn. `ping` counts as
 *   one of these events.
 * - OpenAI `response.*` events, shared by the Realtime API (beta and GA names) and the Responses
 *   API: every non-empty `*.delta` is content (audio deltas carry their media duration and no
 *   tokens; text, transcript and tool-argument deltas count one estimated token each). The terminal
 *   event carries `usage.output_tokens`; a failed or cancelled response is an error.
 *   `response.created` and a server-VAD `input_audio_buffer.speech_stopped` open a turn: the
 *   recorder ignores a request while a turn is open, so a VAD stop followed by `response.created`
 *   is one turn.
 * - Ollama `/api/generate` and `/api/chat` (a `done` flag on every object): `done: true` ends the
 *   turn with `eval_count`.
 * - Otherwise an object is content when its `message` (Ollama's chat), or the object itself if it
 *   has no `type`, carries a non-empty OUTPUT field (Ollama's `response`, `thinking`, `content`,
 *   `tool_calls`; generic `text`, `content`, `delta`, `token`).
 */
export function jsonEvent(o: Json, ctx: StreamContext): Classification {
  const t = o.type;
  if (o.error || t === 'error') return fail(o);
  if (ANTHROPIC.test(t)) {
    ctx.requireEnd = true;
    // Only `content_block_delta` has output in its delta; `message_delta` carries the usage.
    return info(t === 'message_stop' ? 'end' : hasAny(o.delta, OUTPUT) ? 'content' : 'noise', o.usage?.output_tokens);
  }
  if (typeof t === 'string' && t.startsWith('response.')) {
    ctx.requireEnd = true;
    const name = t.slice(9); // after `response.`
    if (name.endsWith('.delta')) {
      if (!has(o.delta)) return 'noise';
      // `response.audio.delta` (beta) and `response.output_audio.delta` (GA).
      return name.endsWith('audio.delta') ? info('content', undefined, undefined, pcm16Ms(o.delta), 0) : 'content';
    }
    if (TERMINAL.includes(name)) {
      const r = o.response;
      const status = r?.status;
      const usage = r?.usage?.output_tokens;
      if (status !== 'failed' && status !== 'cancelled') return info('end', usage);
      // e.g. "cancelled: turn_detected" when the user barged in, "failed: <message>".
      const why = errorText(r.error ?? r.status_details?.error ?? r.status_details?.reason, '');
      return info('error', usage, status + (why && ': ' + why));
    }
    return name === 'created' ? 'request' : 'noise';
  }
  if (t === 'input_audio_buffer.speech_stopped') {
    // A Realtime API turn, which ends with `response.done`.
    ctx.requireEnd = true;
    return 'request';
  }
  if (typeof o.done === 'boolean') ctx.requireEnd = true;
  if (o.done === true) return info('end', o.eval_count);
  return hasAny(o.message, OUTPUT) || (t === undefined && hasAny(o, OUTPUT)) ? 'content' : undefined;
}

/** A message as a known JSON event; anything else (other shapes, invalid JSON, text) is noise. */
export function jsonOrNoise(data: WireData, ctx: StreamContext): Classification {
  const o = parseJson(data);
  return (o && jsonEvent(o, ctx)) || 'noise';
}
