import type { Adapter, Classification } from '../core/types';
import { count, errorText, info, jsonError, type Json, parseJson, text } from './wire';

/**
 * Media ms in base64 audio of 24 kHz mono PCM16 (the Realtime API's default format): 48 bytes per
 * ms. Negative for a malformed string such as "=", which `count` then rejects.
 */
function pcm16Ms(b64: string): number {
  const n = b64.length;
  const pad = b64.charCodeAt(n - 1) === 61 ? (b64.charCodeAt(n - 2) === 61 ? 2 : 1) : 0;
  return (((n * 3) >> 2) - pad) / 48;
}

/**
 * OpenAI `response.*` server events, shared by the Realtime API (beta and GA names) and the
 * Responses API's SSE stream. Every non-empty `response.*.delta` is content: audio deltas carry
 * their media duration and no tokens; text, transcript and tool-argument deltas count one estimated
 * token each. The terminal event carries `usage.output_tokens`; a failed or cancelled response is
 * an error. `response.created` and a server-VAD `speech_stopped` open a turn: the recorder ignores
 * a request while a turn is open, so a VAD stop followed by `response.created` is one turn.
 */
export function openaiEvent(o: Json): Classification {
  const t = o.type;
  if (typeof t !== 'string') return 'noise';
  if (t.startsWith('response.') && t.endsWith('.delta')) {
    const d = o.delta;
    if (typeof d !== 'string' || !d) return 'noise';
    return t === 'response.audio.delta' || t === 'response.output_audio.delta'
      ? info('content', 0, count(pcm16Ms(d)))
      : 'content';
  }
  if (t === 'response.done' || t === 'response.completed' || t === 'response.incomplete' || t === 'response.failed') {
    const r = o.response;
    const status = r?.status;
    const usage = count(r?.usage?.output_tokens);
    if (status !== 'failed' && status !== 'cancelled') return info('end', undefined, undefined, usage);
    // e.g. "cancelled: turn_detected" when the user barged in, "failed: <message>".
    const why = errorText(r.error ?? r.status_details?.error, r.status_details?.reason ?? '');
    return info('error', undefined, undefined, usage, why ? status + ': ' + why : status);
  }
  if (t === 'response.created' || t === 'input_audio_buffer.speech_stopped') return 'request';
  return jsonError(o) ?? 'noise';
}

/**
 * OpenAI Realtime API events over a WebSocket or data channel. Sent `response.create` is a request
 * and any other sent event (audio appends, session updates) is noise; received events as in
 * `openaiEvent`. Turns end with `response.done`, so a connection that closes before it is a drop.
 * Audio deltas are assumed to be 24 kHz PCM16, the API's default output format.
 */
export function openaiRealtime(): Adapter {
  return {
    name: 'openai-realtime',
    received(data, ctx) {
      ctx.requireEnd = true;
      const o = parseJson(data);
      return o ? openaiEvent(o) : 'noise';
    },
    sent(data, ctx) {
      ctx.requireEnd = true;
      // Audio appends are large and frequent: a substring test spares them JSON.parse.
      const s = text(data);
      return s?.includes('"response.create"') && parseJson(s)?.type === 'response.create' ? 'request' : 'noise';
    },
  };
}
