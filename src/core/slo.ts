import type { SloCategory, SloCriteria, SloCriterion, SloFailure, SloResult, TurnReport } from './types';

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
  // Undefined without audio.
  rtf: (t) => t.rtf,
};

/** The latency criteria an SLO may set. */
export const CRITERIA = Object.keys(MEASURES) as SloCriterion[];

/**
 * Judge a turn: good = completed, no error, not judged bad by the app (`verdict`), and every configured
 * criterion met (inclusive bounds).
 */
export function evaluateSlo(turn: TurnReport, slo: SloCriteria, verdict?: 'quality' | 'configuration'): SloResult {
  const failed: SloFailure[] = [];
  // In order of precedence, so the first failure names the category.
  if (verdict === 'configuration') failed.push(verdict);
  if (turn.outcome !== 'complete') failed.push('outcome');
  if (verdict === 'quality') failed.push(verdict);
  for (const name of CRITERIA) {
    const bound = slo[name];
    const value = MEASURES[name](turn);
    if (bound !== undefined && value !== undefined && !(value <= bound)) failed.push(name);
  }
  const first = failed[0];
  return {
    good: !first,
    failed,
    // An abandoned turn spends no budget; `undefined in MEASURES` is false, so a good turn has none either.
    category:
      turn.outcome === 'abandoned'
        ? undefined
        : first === 'outcome'
          ? 'infrastructure'
          : ((first in MEASURES ? 'latency' : first) as SloCategory | undefined),
  };
}
