/**
 * earshot/slo: SLO definitions and presets, error-budget burn, and the Prometheus rules (and
 * OpenSLO documents) generated from the same definitions. Kept out of the core entry: nothing here
 * runs per turn in the page.
 */
export { defineSlo, DAY_MS, DEFAULTS, HOUR_MS, MINUTE_MS, severityOf } from './slo/definition';
export type { ResolvedSlo, SloDefinition } from './slo/definition';
export { batchTranscription, interactiveChat, liveCaptioning, presets, voiceAgent } from './slo/presets';
export { ALERT, RATIO_WINDOWS_MS, RECORDS, sloRules } from './slo/rules';
export type { RulesOptions } from './slo/rules';
export { openSlo } from './slo/openslo';
export type { OpenSloOptions } from './slo/openslo';
export * from './slo/names';
export { BurnTracker, SRE_WINDOWS } from './core/burn';
export type { BurnReport, BurnWindow, SloCategory, SloCriteria, SloCriterion, SloFailure, SloOptions, SloResult } from './core/types';
