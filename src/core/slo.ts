import type { SloCriteria, SloCriterion, SloFailure, SloResult, TurnReport } from './types';

/** The criteria an SLO may set. */
export const CRITERIA: SloCriterion[] = ['ttftMs', 'ttfaMs', 'tpotMs', 'e2eMs', 'maxGapMs', 'rtf'];

/** The turn's value for a criterion; NaN where the turn has none, which passes (it compares false). */
function measure(t: TurnReport, name: SloCriterion): number {
  // A turn without gaps has a max gap of 0, within any bound.
  if (name === 'maxGapMs') return t.itl.max;
  // Without a value: a turn with no content fails (nothing reached the user), and so does a turn that
  // carried audio never heard; one without audio is judged only if heard. TPOT is undefined for one
  // token or less, and such a turn passes (as vLLM does); RTF is undefined without audio.
  return t[name] ?? (name === 'ttftMs' || (name === 'ttfaMs' && t.audioMs > 0) ? Infinity : NaN);
}

/**
 * Judge a turn: good = completed, not judged bad by the app (`verdict`), and every configured
 * criterion met (inclusive bounds).
 */
export function evaluateSlo(turn: TurnReport, slo: SloCriteria, verdict?: 'quality' | 'configuration'): SloResult {
  // The app's verdict first, as it knows the cause; then the outcome, as a turn that never completed
  // also misses its bounds. The first failure names the category of budget spent.
  const failed: SloFailure[] = verdict ? [verdict] : [];
  if (turn.outcome !== 'complete') failed.push('outcome');
  // A comparison with undefined or NaN is false: a criterion not set, or a turn without a value for it, passes.
  for (const name of CRITERIA) if (measure(turn, name) > slo[name]!) failed.push(name);
  const first = failed[0];
  return {
    good: !first,
    failed,
    // An abandoned turn spends no budget.
    category: turn.outcome === 'abandoned' ? undefined : (verdict ?? (first === 'outcome' ? 'infrastructure' : first && 'latency')),
  };
}
