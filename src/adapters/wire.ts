import type { MessageInfo, MessageKind, WireData } from '../core/types';

const decoder = new TextDecoder();

/**
 * A message as text: binary frames decode as UTF-8. A Blob cannot be read synchronously, so it has
 * no text here and text adapters classify it as noise.
 */
export function text(data: WireData): string | undefined {
  return typeof data === 'string' ? data : data instanceof Blob ? undefined : decoder.decode(data);
}

/** A parsed JSON object, probed field by field with optional chaining; each field is type-checked where used. */
export type Json = Record<string, any>;

/**
 * The message parsed as a JSON object, or undefined. Only a message starting with `{` is decoded and
 * parsed, so plain text, audio frames and keep-alives never reach JSON.parse, and invalid JSON never
 * throws. The first byte of binary data is read through a byte view of its buffer (a Blob, which has
 * no buffer, gives an empty view).
 */
export function parseJson(data: WireData): Json | undefined {
  const first = typeof data === 'string' ? data.charCodeAt(0) : new Uint8Array((data as Json).buffer ?? data, (data as Json).byteOffset)[0];
  if (first === 123) {
    try {
      return JSON.parse(text(data)!) as Json;
    } catch {
      // Invalid JSON: undefined.
    }
  }
}

/** A non-empty string, or a non-empty array (tool calls). */
export function has(v: unknown): boolean {
  return typeof v === 'string' ? v !== '' : Array.isArray(v) && v.length > 0;
}

/** True when one of `fields` of `o` is non-empty (see `has`). A loop, not `some`: no closure per message. */
export function hasAny(o: Json | undefined, fields: readonly string[]): boolean {
  for (const f of fields) if (has(o?.[f])) return true;
  return false;
}

/** Error text: a string, or an object's `error.message`, `error` or `message`; else the fallback. */
export function errorText(e: any, fallback: string): string {
  const m = typeof e === 'string' ? e : (e?.error?.message ?? e?.error ?? e?.message);
  return typeof m === 'string' && m ? m : fallback;
}

/** The kinds an adapter may name besides `noise`. */
export const KINDS = ['request', 'content', 'end', 'error'] as const;

/**
 * Adapters return this one object, refilled per message, and `normalize` sanitises verdicts into it
 * (each field read before it is written): the transport reads it before the next message is
 * classified, so no verdict allocates.
 */
export const verdict: MessageInfo = { kind: 'noise' };

/**
 * A verdict with counts, in the shared object (valid until the next classification). Counts taken
 * from the wire go in unchecked: every verdict passes through `normalize`, which drops invalid ones.
 */
export function info(
  kind: MessageKind,
  usageTokens?: number,
  error?: string,
  audioMs?: number,
  tokens?: number,
): MessageInfo {
  verdict.kind = kind;
  verdict.usageTokens = usageTokens;
  verdict.error = error;
  verdict.audioMs = audioMs;
  verdict.tokens = tokens;
  return verdict;
}

/** An error verdict whose text is taken from `e` (see `errorText`). */
export function fail(e: unknown, fallback = 'error'): MessageInfo {
  return info('error', undefined, errorText(e, fallback));
}
