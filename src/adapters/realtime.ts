import type { Adapter } from '../core/types';
import { jsonOrNoise } from './events';
import { parseJson, text } from './wire';

/**
 * OpenAI Realtime API events over a WebSocket or data channel. Sent `response.create` is a request
 * and any other sent event (audio appends, session updates) is noise; received events are
 * classified by `jsonEvent`. Turns end with `response.done`, so a connection that closes before it
 * is a drop. Audio deltas are assumed to be 24 kHz PCM16, the API's default output format.
 */
export function openaiRealtime(): Adapter {
  return {
    name: 'openai-realtime',
    received: jsonOrNoise,
    sent(data, ctx) {
      ctx.requireEnd = true;
      // Audio appends are large and frequent: a substring test spares them JSON.parse.
      const s = text(data);
      return s?.includes('"response.create"') && parseJson(s)?.type === 'response.create' ? 'request' : 'noise';
    },
  };
}
