import type { Adapter, Classification, StreamContext, WireData } from '../core/types';
import { openaiEvent } from './realtime';
import { count, errorText, has, info, jsonError, type Json, parseJson, text } from './wire';

/** Anthropic Messages stream events; each sets `requireEnd`, since that stream ends with `message_stop`. */
const ANTHROPIC = ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop', 'ping'];

/** A JSON event of a known LLM stream format, or undefined when the shape is not recognised. */
function known(o: Json, ctx: StreamContext): Classification {
  const error = jsonError(o);
  if (error) return error;
  const choices = o.choices;
  if (Array.isArray(choices)) {
    // OpenAI chat completions (and the legacy completions `text`); ends with `data: [DONE]`.
    ctx.requireEnd = true;
    let content = false;
    for (const c of choices) {
      const d = c?.delta;
      content ||= has(d?.content) || has(d?.reasoning_content) || has(d?.tool_calls) || has(d?.refusal) || has(c?.text);
    }
    return info(content ? 'content' : 'noise', undefined, undefined, count(o.usage?.completion_tokens));
  }
  const t = o.type;
  if (ANTHROPIC.includes(t)) {
    ctx.requireEnd = true;
    if (t === 'message_stop') return 'end';
    if (t === 'message_delta') return info('noise', undefined, undefined, count(o.usage?.output_tokens));
    const d = o.delta;
    return t === 'content_block_delta' && (has(d?.text) || has(d?.partial_json) || has(d?.thinking)) ? 'content' : 'noise';
  }
  if (typeof t === 'string' && t.startsWith('response.')) {
    // OpenAI Responses API: the same `response.*` events as the Realtime API; ends with `response.completed`.
    ctx.requireEnd = true;
    return openaiEvent(o);
  }
  return undefined;
}

function received(data: WireData, ctx: StreamContext): Classification {
  const s = text(data);
  if (!s) return 'noise';
  if (s === '[DONE]') return 'end';
  const o = parseJson(s);
  const c = o && known(o, ctx);
  if (c) return c;
  if (ctx.event === 'error') return info('error', undefined, undefined, undefined, errorText(o ?? s, 'error'));
  // Not understood: in a recognised stream it is protocol metadata; in a generic SSE stream every
  // non-empty event (text, or JSON of an unknown shape, even invalid JSON) is output.
  return ctx.requireEnd ? 'noise' : 'content';
}

/**
 * Server-sent events (`text/event-stream`): OpenAI chat completions, the OpenAI Responses API and
 * Anthropic Messages are understood (content, usage, end, errors), and a stream of one of these that
 * stops without its terminal event is a drop. Any other non-empty event is content.
 */
export function sse(): Adapter {
  return { name: 'sse', framing: 'sse', received };
}
