/**
 * SLO assertions over the turns a test collected: per-turn bounds that decide goodput, and bounds
 * on the distribution of a metric (p95 and friends, from the same sketch as `monitor.summary()`, so
 * the two agree). A failure lists each objective missed and the turns that missed it.
 */
import { Sketch } from '../core/sketch';
import { CRITERIA, evaluateSlo } from '../core/slo';
import type { Distribution, SloCriteria, SloCriterion, SloFailure, TurnReport } from '../core/types';

/** Upper bounds on a distribution over the turns (inclusive). */
export interface DistributionBounds {
  p50?: number;
  p90?: number;
  p95?: number;
  p99?: number;
  max?: number;
  mean?: number;
}

/**
 * What `toMeetSLO` asserts. A number is a per-turn bound, as in the monitor's SLO: a turn that
 * misses it is not good, and `goodput` (default 1 when any per-turn bound is set) is the share of
 * valid turns that must be good. An object bounds the metric's distribution over the turns.
 */
export type SloAssertion = { [K in SloCriterion]?: number | DistributionBounds } & {
  ttfbMs?: DistributionBounds;
  /** Per-turn jitter: the standard deviation of the turn's inter-token gaps. */
  jitterMs?: DistributionBounds;
  /**
   * Least share of valid (not abandoned) turns that must be good: completed, judged good by the
   * page's monitor (`turn.slo.good`), and within every per-turn bound above.
   */
  goodput?: number;
  /**
   * An SLO definition's objective (`defineSlo` from `earshot/slo`), read as `goodput` when that is
   * not given: the definition that configures the monitor asserts the same thing in a test.
   */
  objective?: number;
  /** Fewest turns the assertion accepts (default 1), so an SLO is never met by zero turns. */
  minTurns?: number;
};

type Metric = Exclude<keyof SloAssertion, 'goodput' | 'objective' | 'minTurns'>;
const STATS = ['p50', 'p90', 'p95', 'p99', 'max', 'mean'] as const;

/** Each metric's value for one turn, as the monitor's summary aggregates it (e2e of completed turns only). */
const VALUE: Record<Metric, (t: TurnReport) => number | undefined> = {
  ttfbMs: (t) => t.ttfbMs,
  ttftMs: (t) => t.ttftMs,
  ttfaMs: (t) => t.ttfaMs,
  tpotMs: (t) => t.tpotMs,
  e2eMs: (t) => (t.outcome === 'complete' ? t.e2eMs : undefined),
  maxGapMs: (t) => (t.itl.count > 0 ? t.itl.max : undefined),
  jitterMs: (t) => (t.itl.count > 0 ? t.itl.stddev : undefined),
  rtf: (t) => t.rtf,
};
const METRICS = Object.keys(VALUE) as Metric[];

export interface SloCheck {
  /** e.g. `ttftMs p95`, `goodput`, `turns`. */
  objective: string;
  pass: boolean;
  /** One line: the value, the bound, and how many turns missed it. */
  detail: string;
}

export interface SloVerdict {
  pass: boolean;
  checks: SloCheck[];
  /** Turns that missed an objective, worst first, with the objectives each missed. */
  offending: Array<{ turn: TurnReport; missed: string[] }>;
  turns: number;
  valid: number;
}

/** A measured value with its metric's unit (`rtf` has none). */
const show = (v: number | undefined, metric: string = 'Ms'): string =>
  v === undefined ? '-' : metric.endsWith('Ms') ? `${v.toFixed(1)} ms` : v.toFixed(3);
/** A bound as the test wrote it, with its unit. */
const limit = (bound: number, metric: string): string => (metric.endsWith('Ms') ? `${bound} ms` : String(bound));
const ms = (v: number | undefined): string => show(v);
const isBound = (v: unknown): v is number => typeof v === 'number';

/** Judges the turns against the assertion. Pure: the matcher formats its verdict. */
export function checkSlo(turns: readonly TurnReport[], slo: SloAssertion): SloVerdict {
  const checks: SloCheck[] = [];
  const missed = new Map<TurnReport, Set<string>>();
  const miss = (turn: TurnReport, what: string): void => {
    let set = missed.get(turn);
    if (!set) missed.set(turn, (set = new Set()));
    set.add(what);
  };
  const valid = turns.filter((t) => t.outcome !== 'abandoned');

  const minTurns = slo.minTurns ?? 1;
  if (turns.length < minTurns) {
    checks.push({ objective: 'turns', pass: false, detail: `${turns.length} turns reported, fewer than the ${minTurns} needed` });
  }

  const criteria: SloCriteria = {};
  for (const name of CRITERIA) {
    const bound = slo[name];
    if (isBound(bound)) criteria[name] = bound;
  }
  const perTurn = Object.keys(criteria).length > 0;
  const goodputBound = slo.goodput ?? slo.objective;
  if (perTurn || goodputBound !== undefined) {
    const required = goodputBound ?? 1;
    const bad: Array<[TurnReport, Set<SloFailure>]> = [];
    for (const turn of valid) {
      const failed = new Set<SloFailure>([...evaluateSlo(turn, criteria).failed, ...turn.slo.failed]);
      if (failed.size) bad.push([turn, failed]);
    }
    const good = valid.length - bad.length;
    const goodput = valid.length ? good / valid.length : NaN;
    const pass = valid.length > 0 && goodput >= required;
    // Bad turns within the allowed share are not offending.
    if (!pass) {
      for (const [turn, failed] of bad) {
        for (const f of failed) miss(turn, describeFailure(turn, f, criteria));
      }
    }
    checks.push({
      objective: 'goodput',
      pass,
      detail: valid.length
        ? `${goodput.toFixed(4)} (${good} good of ${valid.length} valid), ${goodput >= required ? 'at least' : 'under'} ${required}`
        : 'no valid turn to judge',
    });
  }

  for (const metric of METRICS) {
    const bounds = slo[metric];
    if (bounds === undefined || isBound(bounds)) continue;
    const sketch = new Sketch();
    for (const t of turns) {
      const v = VALUE[metric](t);
      if (v !== undefined) sketch.add(v);
    }
    const dist: Distribution = sketch.distribution();
    for (const stat of STATS) {
      const bound = bounds[stat];
      if (bound === undefined) continue;
      const objective = `${metric} ${stat}`;
      if (dist.count === 0) {
        checks.push({ objective, pass: false, detail: `no turn has a value for ${metric}` });
        continue;
      }
      const pass = dist[stat] <= bound;
      let over = 0;
      for (const t of turns) {
        const v = VALUE[metric](t);
        if (v !== undefined && v > bound) {
          over++;
          if (!pass) miss(t, `${metric} ${show(v, metric)} > ${limit(bound, metric)}`);
        }
      }
      checks.push({
        objective,
        pass,
        detail: `${show(dist[stat], metric)} ${pass ? 'within' : 'over'} ${limit(bound, metric)} (${over} of ${dist.count} turns over)`,
      });
    }
  }

  // Worst first: the turns that missed the most objectives, then those that did not complete, then
  // the slowest to first content.
  const incomplete = (t: TurnReport): number => (t.outcome === 'complete' ? 0 : 1);
  const offending = [...missed]
    .map(([turn, set]) => ({ turn, missed: [...set] }))
    .sort(
      (a, b) =>
        b.missed.length - a.missed.length ||
        incomplete(b.turn) - incomplete(a.turn) ||
        (b.turn.ttftMs ?? Infinity) - (a.turn.ttftMs ?? Infinity),
    );
  return { pass: checks.every((c) => c.pass), checks, offending, turns: turns.length, valid: valid.length };
}

/** Why a turn is not good: its outcome, the app's verdict, or a criterion with its value and bound. */
function describeFailure(turn: TurnReport, failure: SloFailure, criteria: SloCriteria): string {
  if (failure === 'outcome') return `outcome ${turn.outcome}${turn.reason ? ` (${turn.reason})` : ''}`;
  if (!(failure in VALUE)) return `judged bad by the app (${failure})`;
  const criterion = failure as SloCriterion;
  const value = show(VALUE[criterion](turn), criterion);
  const bound = criteria[criterion];
  return `${criterion} ${value} ${bound === undefined ? "(the page monitor's SLO)" : `> ${limit(bound, criterion)}`}`;
}

const MAX_LISTED = 10;

/** One line per turn: enough to find it in the app's logs. */
export function describeTurn(turn: TurnReport): string {
  const where = turn.url ? ` ${turn.url}` : '';
  return `${turn.id} ${turn.transport}${where} ${turn.outcome}: ttft ${ms(turn.ttftMs)}, e2e ${ms(turn.e2eMs)}, max gap ${ms(turn.itl.count ? turn.itl.max : undefined)}, ${turn.chunks} chunks`;
}

/** The verdict as a failure message: the objectives, then the offending turns. */
export function formatVerdict(verdict: SloVerdict): string {
  const lines = [`SLO ${verdict.pass ? 'met' : 'not met'} over ${verdict.turns} turns (${verdict.valid} valid):`];
  for (const c of verdict.checks) lines.push(`  ${c.pass ? 'ok    ' : 'MISSED'} ${c.objective}: ${c.detail}`);
  if (verdict.offending.length) {
    lines.push(`Offending turns (${verdict.offending.length}), worst first:`);
    for (const { turn, missed } of verdict.offending.slice(0, MAX_LISTED)) {
      lines.push(`  ${describeTurn(turn)}`, `      missed: ${missed.join('; ')}`);
    }
    if (verdict.offending.length > MAX_LISTED) lines.push(`  ... and ${verdict.offending.length - MAX_LISTED} more`);
  }
  return lines.join('\n');
}
