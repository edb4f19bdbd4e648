import { isCount } from '../core/options';
import type { Classification, MessageInfo } from '../core/types';
import { KINDS, verdict } from './wire';

/** A count, or undefined when it is not a finite number >= 0 (NaN, negative, wrong type). */
function count(v: unknown): number | undefined {
  return isCount(v) ? v : undefined;
}

/**
 * A verdict as a complete, sanitised MessageInfo written into `out` (by default one shared object,
 * so the hot path allocates nothing; read it before classifying another message). Unknown kinds and
 * undefined are `noise`; invalid counts are undefined; error text is capped at 256 characters so a
 * huge error payload cannot bloat a report. Every verdict passes through here, so adapters leave
 * counts read from the wire to it.
 */
export function normalize(c: Classification, out: MessageInfo = verdict): MessageInfo {
  // null passes as an object here: it has no kind (noise) and no fields, as `o ?` and `o?.` read it.
  const o = typeof c === 'object' ? c : undefined;
  const k = o ? o.kind : c;
  out.kind = (KINDS as readonly unknown[]).includes(k) ? (k as MessageInfo['kind']) : 'noise';
  out.tokens = count(o?.tokens);
  out.audioMs = count(o?.audioMs);
  out.usageTokens = count(o?.usageTokens);
  out.error = typeof o?.error === 'string' ? o.error.slice(0, 256) : undefined;
  return out;
}
