import type { Adapter } from '../core/types';
import { jsonOrNoise } from './events';

/**
 * Newline-delimited JSON bodies: each line is classified by `jsonEvent`. Ollama's `/api/generate`
 * and `/api/chat` streams end with `done: true`, so such a stream that stops before it is a drop.
 * Lines that are not JSON objects, and objects of an unknown shape, are noise.
 */
export function ndjson(): Adapter {
  return { name: 'ndjson', framing: 'ndjson', received: jsonOrNoise };
}
