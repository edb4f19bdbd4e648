import type { Adapter, Classification, StreamContext, WireData } from '../core/types';
import { jsonEvent, OUTPUT } from './events';
import { fail, hasAny, info, type Json, parseJson, text } from './wire';

/**
 * OpenAI chat completions (and the legacy completions `text`), or undefined for another shape.
 * Only SSE carries them: the stream ends with `data: [DONE]`, which is not JSON.
 */
function chat(o: Json, ctx: StreamContext): Classification {
  const choices = o.choices;
  if (!Array.isArray(choices)) return undefined;
  ctx.requireEnd = true;
  let content = false;
  for (const c of choices) content ||= hasAny(c?.delta, OUTPUT) || hasAny(c, OUTPUT);
  return info(content ? 'content' : 'noise', o.usage?.completion_tokens);
}

function received(data: WireData, ctx: StreamContext): Classification {
  const s = text(data);
  if (!s) return 'noise';
  if (s === '[DONE]') return 'end';
  const o = parseJson(s);
  if (ctx.event === 'error') return fail(o ?? s);
  const c = o && (jsonEvent(o, ctx) ?? chat(o, ctx));
  if (c) return c;
  // Not understood: in a recognised stream it is protocol metadata; in a generic SSE stream every
  // non-empty event (text, or JSON of an unknown shape, even invalid JSON) is output.
  return ctx.requireEnd ? 'noise' : 'content';
}

/**
 * Server-sent events (`text/event-stream`): OpenAI chat completions and every JSON event format
 * `jsonEvent` knows (the OpenAI Responses API, Anthropic Messages, ...) are understood (content,
 * usage, end, errors), and a stream of one of these that stops without its terminal event is a
 * drop. Any other non-empty event is content.
 */
export function sse(): Adapter {
  return { name: 'sse', framing: 'sse', received };
}
