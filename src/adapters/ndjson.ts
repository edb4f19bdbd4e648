import type { Adapter } from '../core/types';
import { count, has, info, jsonError, parseJson } from './wire';

/**
 * Newline-delimited JSON bodies. Ollama's `/api/generate` and `/api/chat` streams are understood:
 * a non-empty `response`, `thinking` or `message.content|thinking|tool_calls` is content, `done: true`
 * ends the turn with `eval_count` as the server's token count, and a stream that stops before it is
 * a drop. Other objects without a `type` field are content when they carry non-empty `text`,
 * `content`, `delta` or `token`; anything else, and lines that are not JSON objects, are noise.
 */
export function ndjson(): Adapter {
  return {
    name: 'ndjson',
    framing: 'ndjson',
    received(data, ctx) {
      const o = parseJson(data);
      if (!o) return 'noise';
      const error = jsonError(o);
      if (error) return error;
      if (typeof o.done === 'boolean') ctx.requireEnd = true;
      if (o.done === true) return info('end', undefined, undefined, count(o.eval_count));
      const m = o.message;
      return has(o.response) ||
        has(o.thinking) ||
        has(m?.content) ||
        has(m?.thinking) ||
        has(m?.tool_calls) ||
        (o.type === undefined && (has(o.text) || has(o.content) || has(o.delta) || has(o.token)))
        ? 'content'
        : 'noise';
    },
  };
}
