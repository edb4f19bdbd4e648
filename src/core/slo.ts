import type { SloCriteria, SloCriterion, SloResult, TurnReport } from './types';

/** The turn's value for each criterion; `undefined` where the turn has none. */
const MEASURES: Record<SloCriterion, (turn: TurnReport) => number | undefined> = {
  // A turn with no content fails: nothing reached the user.
  ttftMs: (t) => t.ttftMs ?? Infinity,
  // Only turns that carried audio can be judged on when it was heard.
  ttfaMs: (t) => (t.audioMs > 0 || t.ttfaMs !== undefined ? (t.ttfaMs ?? Infinity) : undefined),
  // TPOT is undefined for one token or less, and such a turn passes (as vLLM does).
  tpotMs: (t) => t.tpotMs,
  e2eMs: (t) => t.e2eMs,
  maxGapMs: (t) => (t.itl.count > 0 ? t.itl.max : undefined),
};

/** The latency criteria an SLO may set. */
export const CRITERIA = Object.keys(MEASURES) as SloCriterion[];

/** Judge a turn: good = completed, no error, and every configured criterion met (inclusive bounds). */
export function evaluateSlo(turn: TurnReport, slo: SloCriteria): SloResult {
  const failed: SloResult['failed'] = turn.outcome === 'complete' ? [] : ['outcome'];
  for (const name of CRITERIA) {
    const bound = slo[name];
    const value = MEASURES[name](turn);
    if (bound !== undefined && value !== undefined && !(value <= bound)) failed.push(name);
  }
  return { good: !failed.length, failed };
}
