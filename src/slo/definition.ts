import { SRE_WINDOWS } from '../core/burn';
import type { BurnWindow, SloCriterion, SloOptions } from '../core/types';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/**
 * An SLO: which turns are good (its criteria, inclusive upper bounds), what share of valid turns
 * must be good (`objective`), over which rolling window (`windowMs`), and the burn-rate windows its
 * alerts use. One object configures `createMonitor({ slo })`, the Playwright SLO assertions and the
 * Prometheus rules (`sloRules`); the monitor reads the `SloOptions` part and ignores the rest.
 */
export interface SloDefinition extends SloOptions {
  /** Lowercase letters, digits and dashes, at most 63 (a DNS label, as OpenSLO names): the `slo` label of its rules. */
  name: string;
  /** One line for people, carried into OpenSLO. */
  description?: string;
  /** Rolling window the error budget is counted over. Default 30 days, the window the default burn factors assume. */
  windowMs?: number;
  /**
   * Upper bound on dropped / (dropped + clean) connections. A drop belongs to a connection, not a
   * turn, so it is judged on connections: `summary().dropRate` in a session, and a rule on
   * `earshot.connections`. (The turn a drop cuts short is bad already, and spends infrastructure budget.)
   */
  dropRate?: number;
}

/** A definition with every default filled in; `defineSlo` returns it frozen. */
export type ResolvedSlo = Readonly<
  SloDefinition & Required<Pick<SloDefinition, 'objective' | 'windowMs' | 'windows' | 'minEvents'>>
>;

/** The defaults; the monitor's objective defaults to the same 0.99. */
export const DEFAULTS = { objective: 0.99, windowMs: 30 * DAY_MS, windows: SRE_WINDOWS, minEvents: 10 } as const;

/**
 * Every field, and whether it is a per-turn criterion. Typed against the definition, so a criterion
 * added to `SloCriteria` must be listed here. (Not imported from the core's list: this entry would
 * then share a chunk with the core bundle, at a cost to its size.)
 */
const FIELDS: Record<keyof SloDefinition, boolean> = {
  ttftMs: true,
  ttfaMs: true,
  tpotMs: true,
  e2eMs: true,
  maxGapMs: true,
  rtf: true,
  name: false,
  description: false,
  objective: false,
  windowMs: false,
  windows: false,
  minEvents: false,
  dropRate: false,
};
const CRITERIA = (Object.keys(FIELDS) as Array<keyof SloDefinition>).filter((k): k is SloCriterion => FIELDS[k]);
const NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Check a definition and fill in its defaults. Throws a `TypeError` or `RangeError` naming the field
 * at fault (this runs when an SLO is configured, not while turns are measured). Override a preset
 * by spreading it: `defineSlo({ ...voiceAgent, name: 'support-line', ttftMs: 250 })`.
 */
export function defineSlo(definition: SloDefinition): ResolvedSlo {
  const fail = (message: string): never => {
    throw new RangeError(`earshot: SLO ${JSON.stringify(definition?.name)}: ${message}`);
  };
  if (typeof definition !== 'object' || definition === null) throw new TypeError('earshot: an SLO definition must be an object');
  for (const key of Object.keys(definition)) if (!Object.hasOwn(FIELDS, key)) fail(`unknown field "${key}"`);
  const { name, description } = definition;
  if (typeof name !== 'string' || !NAME.test(name)) fail('name must be lowercase letters, digits and dashes (at most 63)');
  if (description !== undefined && typeof description !== 'string') fail('description must be a string');
  /** A number that must pass `ok` (`range` says what passes), when given or `required`. */
  const number = (field: string, value: unknown, ok: (v: number) => boolean, range: string, required = false) => {
    if ((required || value !== undefined) && !(typeof value === 'number' && ok(value))) fail(`${field} must be ${range} (got ${String(value)})`);
  };
  const bound = (v: number) => v >= 0 && v < Infinity;
  const positive = (v: number) => v > 0 && v < Infinity;
  for (const key of CRITERIA) number(key, definition[key], bound, 'a number ≥ 0');
  number('objective', definition.objective, (v) => v >= 0 && v < 1, 'in [0, 1)');
  number('windowMs', definition.windowMs, positive, 'a duration > 0');
  number('minEvents', definition.minEvents, bound, 'a number ≥ 0');
  // A bound of 0 leaves no budget to burn: any drop would page at once.
  number('dropRate', definition.dropRate, (v) => v > 0 && v <= 1, 'in (0, 1]');
  const windows = definition.windows ?? DEFAULTS.windows;
  if (!Array.isArray(windows) || !windows.length) fail('windows must be a non-empty array');
  windows.forEach((w: Partial<BurnWindow> | undefined, i) => {
    const field = `windows[${i}]`;
    number(`${field}.longMs`, w?.longMs, positive, 'a duration > 0', true);
    number(`${field}.shortMs`, w?.shortMs, (v) => positive(v) && v <= w!.longMs!, 'a duration > 0, at most longMs', true);
    number(`${field}.factor`, w?.factor, positive, 'a number > 0', true);
    if (w!.severity !== undefined && w!.severity !== 'page' && w!.severity !== 'ticket') fail(`${field}.severity must be "page" or "ticket"`);
  });
  return Object.freeze({
    ...definition,
    objective: definition.objective ?? DEFAULTS.objective,
    windowMs: definition.windowMs ?? DEFAULTS.windowMs,
    windows: Object.freeze(windows.map((w) => Object.freeze({ ...w }))) as BurnWindow[],
    minEvents: definition.minEvents ?? DEFAULTS.minEvents,
  });
}

/** How a generated alert on a window pair notifies: as set, else a page when the long window is 6 h or less. */
export function severityOf(window: BurnWindow): 'page' | 'ticket' {
  return window.severity ?? (window.longMs <= 6 * HOUR_MS ? 'page' : 'ticket');
}
