import { json } from './json';
import { ndjson } from './ndjson';
import { pcm } from './pcm';
import { raw } from './raw';
import { openaiRealtime } from './realtime';
import { sse } from './sse';

/** The built-in protocol adapters: each call returns a fresh Adapter. */
export const adapters = { raw, sse, ndjson, openaiRealtime, json, pcm };

export { normalize, toAdapter } from './classify';
export type { JsonAdapterOptions } from './json';
export type { PcmOptions } from './pcm';
