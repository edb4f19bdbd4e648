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
 * The message parsed as a JSON object, or undefined. Only a message starting with `{` is parsed (a
 * binary frame is decoded only when its first byte is `{`), so plain text, audio frames and
 * keep-alives never reach JSON.parse, and invalid JSON never throws.
 */
export function parseJson(data: WireData): Json | undefined {
  let s: string | undefined;
  if (typeof data === 'string') s = data;
  else if (!(data instanceof Blob)) {
    const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    if (bytes[0] === 123) s = decoder.decode(bytes);
  }
  if (s?.charCodeAt(0) !== 123) return undefined;
  try {
    return JSON.parse(s) as Json;
  } catch {
    return undefined;
  }
}

/** A count, or undefined when it is not a finite number >= 0 (NaN, negative, wrong type). */
export function count(v: unknown): number | undefined {
  return typeof v === 'number' && v >= 0 && v < Infinity ? v : undefined;
}

/** A non-empty string, or a non-empty array (tool calls). */
export function has(v: unknown): boolean {
  return typeof v === 'string' ? v !== '' : Array.isArray(v) && v.length > 0;
}

/** Error text from a string, an `{ message }` object, or a fallback. */
export function errorText(e: unknown, fallback: string): string {
  const m = typeof e === 'string' ? e : (e as Json | null)?.message;
  return typeof m === 'string' && m ? m : fallback;
}

// Adapters return this one object, refilled per message: the transport reads it before the next
// message is classified, so no verdict allocates.
const out: MessageInfo = { kind: 'noise' };

/** A verdict with counts, in the shared object (valid until the next classification). */
export function info(
  kind: MessageKind,
  tokens?: number,
  audioMs?: number,
  usageTokens?: number,
  error?: string,
): MessageInfo {
  out.kind = kind;
  out.tokens = tokens;
  out.audioMs = audioMs;
  out.usageTokens = usageTokens;
  out.error = error;
  return out;
}

/** `{ "error": ... }` or `{ "type": "error", ... }` as an error verdict with its message, else undefined. */
export function jsonError(o: Json): MessageInfo | undefined {
  return o.error || o.type === 'error' ? info('error', undefined, undefined, undefined, errorText(o.error ?? o, 'error')) : undefined;
}
