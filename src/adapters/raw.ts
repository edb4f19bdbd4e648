import type { Adapter } from '../core/types';

/**
 * Every received message or body chunk is content (one estimated token each); every sent message is
 * a request. The default for WebSocket and for fetch bodies that are neither SSE nor NDJSON.
 */
export function raw(): Adapter {
  return { name: 'raw', framing: 'chunk', received: () => 'content' };
}
