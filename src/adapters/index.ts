import type { Adapter, AdapterLike } from '../core/types';
import { json } from './json';
import { ndjson } from './ndjson';
import { pcm } from './pcm';
import { raw } from './raw';
import { openaiRealtime } from './realtime';
import { sse } from './sse';

/** The built-in protocol adapters: each call returns a fresh Adapter. */
export const adapters = { raw, sse, ndjson, openaiRealtime, json, pcm };

/**
 * An Adapter from an AdapterLike: a plain function sees received messages as `'in'` and sent ones
 * as `'out'`, so it decides both (undefined for a sent message means noise, not request). None, or
 * anything that is not an adapter (e.g. from untyped code), falls back to `raw`.
 */
export function toAdapter(like?: AdapterLike): Adapter {
  if (typeof like === 'function') {
    return {
      name: like.name || 'custom',
      received: (data, ctx) => like(data, 'in', ctx),
      sent: (data, ctx) => like(data, 'out', ctx),
    };
  }
  return typeof like?.received === 'function' ? like : adapters.raw();
}

export { normalize } from './classify';

export type { JsonAdapterOptions } from './json';
export type { PcmOptions } from './pcm';
