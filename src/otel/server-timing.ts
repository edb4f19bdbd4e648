import { isSpanContextValid, type SpanContext } from '@opentelemetry/api';
import { parseTraceParent } from '@opentelemetry/core';

export interface ServerTimingEntry {
  name: string;
  /** Milliseconds, when the entry has a numeric `dur`. */
  dur?: number;
  desc?: string;
}

/** What a turn learns from its response's `Server-Timing`. */
export interface ServerTiming {
  /** The server span named by a `traceparent;desc=...` entry. */
  span?: SpanContext;
  /** Durations by metric name, in ms (at most MAX_DURATIONS, first occurrence of a name). */
  durations: Array<[name: string, ms: number]>;
  /** The server's part of the wait: its longest duration (a total covers its parts, so no sum). */
  serverMs?: number;
}

/** A hostile or chatty server must not fill the span with attributes. */
const MAX_DURATIONS = 8;
const SEPARATORS = ';,= \t"';

/**
 * Parses a `Server-Timing` header value (W3C Server Timing): comma-separated metrics, each with
 * `;dur=` and `;desc=` parameters whose values are tokens or quoted strings. The first `dur` and
 * `desc` of a metric count; anything malformed is skipped, never thrown.
 */
export function parseServerTiming(value: string): ServerTimingEntry[] {
  const entries: ServerTimingEntry[] = [];
  const n = value.length;
  let i = 0;
  const skipSpace = () => {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && !SEPARATORS.includes(value[i])) i++;
    return value.slice(start, i);
  };
  const paramValue = () => {
    if (value[i] !== '"') return token();
    let out = '';
    for (i++; i < n && value[i] !== '"'; i++) {
      if (value[i] === '\\' && i + 1 < n) i++;
      out += value[i];
    }
    i++;
    return out;
  };
  while (i < n) {
    skipSpace();
    const entry: ServerTimingEntry = { name: token() };
    skipSpace();
    while (value[i] === ';') {
      i++;
      skipSpace();
      const key = token().toLowerCase();
      skipSpace();
      let param = '';
      if (value[i] === '=') {
        i++;
        skipSpace();
        param = paramValue();
        skipSpace();
      }
      if (key === 'dur' && entry.dur === undefined && param !== '' && Number.isFinite(Number(param))) entry.dur = Number(param);
      else if (key === 'desc' && entry.desc === undefined) entry.desc = param;
    }
    // Whatever is left of a malformed metric is skipped up to the next one.
    while (i < n && value[i] !== ',') i++;
    i++;
    if (entry.name !== '') entries.push(entry);
  }
  return entries;
}

/** The server span and the server's durations named in a `Server-Timing` header value. */
export function readServerTiming(value: string): ServerTiming {
  const timing: ServerTiming = { durations: [] };
  for (const { name, dur, desc } of parseServerTiming(value)) {
    if (name === 'traceparent') {
      const span = desc === undefined ? null : parseTraceParent(desc.trim());
      if (!timing.span && span && isSpanContextValid(span)) timing.span = { ...span, isRemote: true };
    } else if (dur !== undefined && dur >= 0 && timing.durations.length < MAX_DURATIONS && !timing.durations.some(([n]) => n === name)) {
      timing.durations.push([name, dur]);
      timing.serverMs = Math.max(timing.serverMs ?? 0, dur);
    }
  }
  return timing;
}
