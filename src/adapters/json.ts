import { rejectUnknown } from '../core/options';
import type { Adapter, MessageKind } from '../core/types';
import { fail, info, KINDS, parseJson } from './wire';

export interface JsonAdapterOptions<M> {
  /** Field holding the message type. Default `type`. */
  typeField?: string;
  /** Types that start a turn (sent by the app, or received, e.g. a server VAD event). */
  request?: string[];
  /** Received types that carry output. */
  content?: string[];
  /** Received types that end a turn. */
  end?: string[];
  /** Received types that fail a turn; their `error`/`message` text is the reason. */
  error?: string[];
  /** Tokens in a content message; default one, counted as an estimate. */
  tokens?: (msg: M) => number | undefined;
  /** Media ms in a content message. */
  audioMs?: (msg: M) => number | undefined;
}

/**
 * A JSON `{ type }` envelope the app names. Messages are classified by their type; sent messages
 * are requests when their type is listed in `request`, noise otherwise. Binary frames and Blobs are
 * noise (a binary frame holding JSON text is read as that text).
 */
export function json<M extends object = Record<string, unknown>>(options: JsonAdapterOptions<M>): Adapter {
  rejectUnknown(options, [...KINDS, 'typeField', 'tokens', 'audioMs'], 'earshot: adapters.json');
  const field = options.typeField ?? 'type';
  // Built from entries: a type listed under two kinds takes the later one.
  const kinds = new Map<unknown, MessageKind>(KINDS.flatMap((kind) => (options[kind] ?? []).map((type) => [type, kind] as const)));
  return {
    name: 'json',
    received(data) {
      const o = parseJson(data);
      const kind = o && kinds.get(o[field]);
      if (kind === 'content') {
        return info(kind, undefined, undefined, options.audioMs?.(o as M), options.tokens?.(o as M));
      }
      // An unlisted type is undefined: noise.
      return kind === 'error' ? fail(o, String(o![field])) : kind;
    },
    sent(data) {
      const o = parseJson(data);
      return o && kinds.get(o[field]) === 'request' ? 'request' : 'noise';
    },
  };
}
