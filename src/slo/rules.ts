/**
 * Prometheus recording and alerting rules for an SLO, over the counters earshot exports as they
 * arrive through the OpenTelemetry Collector's `prometheus` exporter (see `names.ts`).
 */
import { DAY_MS, defineSlo, HOUR_MS, MINUTE_MS, severityOf, type ResolvedSlo, type SloDefinition } from './definition';
import { decimal, duration, yaml, type Yaml } from './format';
import { PROMETHEUS } from './names';

export interface RulesOptions {
  /**
   * Label matchers added to every query, to pick the app's series: `{ job: 'voice-web' }` (the
   * Collector's exporter sets `job` from `service.namespace/service.name`). Values match exactly.
   */
  matchers?: Record<string, string>;
  /** Labels added to every alert, e.g. `{ team: 'voice' }`. */
  labels?: Record<string, string>;
}

/** Windows the error ratio is always recorded over, for dashboards, besides the alerts' windows. */
export const RATIO_WINDOWS_MS = [5, 30, 60, 120, 360, 1440, 4320].map((minutes) => minutes * MINUTE_MS);

/** Recording rule names: `level:metric:operations`, each with the labels `slo` and `sli`. */
export const RECORDS = {
  /** Valid turns (or connections) in the window. */
  events: (w: string) => `earshot:slo_events:increase${w}`,
  /** Bad / valid over the window. */
  errors: (w: string) => `earshot:slo_errors:ratio_rate${w}`,
  /** Error ratio / (1 - objective). */
  burn: (w: string) => `earshot:slo_burn_rate:ratio_rate${w}`,
  /** 1 - bad / valid / (1 - objective) over the SLO's window; negative once overspent. */
  remaining: 'earshot:slo_budget_remaining:ratio',
  /** Share of the budget each `slo_category` spent over the SLO's window; they sum to 1 - remaining. */
  spent: 'earshot:slo_budget_spent:ratio',
} as const;

export const ALERT = 'EarshotSloErrorBudgetBurn';

/** An indicator: which events are valid and which of them are bad, and the share that may be bad. */
export interface Indicator {
  sli: 'turns' | 'connections';
  valid: string;
  bad: string;
  budget: number;
}

const LABEL = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A duration for people: `2.1 days`, `5 hours`. */
function roughly(ms: number): string {
  const [unit, size] = ms >= 2 * DAY_MS ? ['days', DAY_MS] : ms >= 2 * HOUR_MS ? ['hours', HOUR_MS] : ['minutes', MINUTE_MS];
  return `${Math.round((ms / size) * 10) / 10} ${unit}`;
}

/** A PromQL string literal. */
const quote = (value: string) => JSON.stringify(value);

function selector(metric: string, matchers: Record<string, string>, own: string[]): string {
  const all = [...Object.entries(matchers).map(([k, v]) => `${k}=${quote(v)}`), ...own];
  return `${metric}{${all.join(',')}}`;
}

/** The SLO's indicators: its turns, and its connections when it sets `dropRate`. */
export function indicators(slo: ResolvedSlo, matchers: Record<string, string>): Indicator[] {
  const { turns, connections, outcome, good } = PROMETHEUS;
  const validTurn = `${outcome}!="abandoned"`;
  const list: Indicator[] = [
    {
      sli: 'turns',
      valid: selector(turns, matchers, [validTurn]),
      bad: selector(turns, matchers, [validTurn, `${good}="false"`]),
      budget: decimal(1 - slo.objective),
    },
  ];
  if (slo.dropRate !== undefined) {
    list.push({
      sli: 'connections',
      valid: selector(connections, matchers, [`${outcome}!="abandoned"`]),
      bad: selector(connections, matchers, [`${outcome}="dropped"`]),
      budget: slo.dropRate,
    });
  }
  return list;
}

/**
 * The rules of one SLO as a Prometheus rule group: per indicator (turns; connections when the SLO
 * sets `dropRate`) the valid events, error ratio and burn rate over each window, the budget left
 * and spent by category over the SLO's window, and the multi-window, multi-burn-rate alerts of its
 * `windows` (SRE workbook, ch. 5: a pair fires when both windows burn at least `factor` times the
 * budget with at least `minEvents` valid events each, as the in-page `BurnTracker` judges it).
 */
function group(definition: SloDefinition, options: RulesOptions): Yaml {
  const slo = defineSlo(definition);
  const matchers = options.matchers ?? {};
  for (const key of [...Object.keys(matchers), ...Object.keys(options.labels ?? {})]) {
    if (!LABEL.test(key)) throw new RangeError(`earshot: "${key}" is not a Prometheus label name`);
  }
  const windowsMs = [...new Set([...RATIO_WINDOWS_MS, ...slo.windows.flatMap((w) => [w.longMs, w.shortMs])])].sort((a, b) => a - b);
  const period = duration(slo.windowMs);
  const rules: Yaml[] = [];
  const alerts: Yaml[] = [];
  for (const { sli, valid, bad, budget } of indicators(slo, matchers)) {
    const labels = { slo: slo.name, sli };
    const ref = (record: string) => `${record}{slo=${quote(slo.name)},sli=${quote(sli)}}`;
    const ratio = (w: string, fn: 'rate' | 'increase') => `(sum(${fn}(${bad}[${w}])) or vector(0)) / sum(${fn}(${valid}[${w}]))`;
    for (const ms of windowsMs) {
      const w = duration(ms);
      rules.push(
        { record: RECORDS.events(w), expr: `sum(increase(${valid}[${w}]))`, labels },
        { record: RECORDS.errors(w), expr: ratio(w, 'rate'), labels },
        { record: RECORDS.burn(w), expr: `${ref(RECORDS.errors(w))} / ${budget}`, labels },
      );
    }
    rules.push({ record: RECORDS.remaining, expr: `1 - ${ratio(period, 'increase')} / ${budget}`, labels });
    if (sli === 'turns') {
      rules.push({
        record: RECORDS.spent,
        expr: `sum by (${PROMETHEUS.category}) (increase(${bad}[${period}])) / on() group_left() sum(increase(${valid}[${period}])) / ${budget}`,
        labels,
      });
    }
    for (const severity of ['page', 'ticket'] as const) {
      const pairs = slo.windows.filter((w) => severityOf(w) === severity);
      if (!pairs.length) continue;
      const conditions = pairs.map(({ longMs, shortMs, factor }) => {
        const [long, short] = [duration(longMs), duration(shortMs)];
        const threshold = decimal(factor * budget);
        return [
          '(',
          `  ${ref(RECORDS.errors(long))} >= ${threshold}`,
          `  and ${ref(RECORDS.errors(short))} >= ${threshold}`,
          `  and ${ref(RECORDS.events(long))} >= ${slo.minEvents}`,
          `  and ${ref(RECORDS.events(short))} >= ${slo.minEvents}`,
          ')',
        ].join('\n');
      });
      const how = pairs.map(
        ({ longMs, shortMs, factor }) =>
          `${factor}x over ${duration(longMs)} and ${duration(shortMs)} (budget gone in ${roughly(slo.windowMs / factor)})`,
      );
      const what = sli === 'turns' ? 'bad' : 'dropped';
      alerts.push({
        alert: ALERT,
        expr: conditions.join('\nor\n'),
        labels: { ...options.labels, ...labels, severity },
        annotations: {
          summary: `SLO ${slo.name}: ${what} ${sli} are spending the error budget ${severity === 'page' ? 'fast' : 'steadily'}`,
          description:
            `{{ $value | humanizePercentage }} of ${sli} ${what} over the long window; budget ${decimal(budget * 100)}% over ${period}.` +
            ` Fires at ${how.join(', or ')}.`,
        },
      });
    }
  }
  return { name: `earshot-slo-${slo.name}`, rules: [...rules, ...alerts] };
}

/**
 * Prometheus rules for one SLO or several (a group each), as a rule file's YAML. Check it with
 * `promtool check rules`. Throws on a definition `defineSlo` rejects.
 */
export function sloRules(definitions: SloDefinition | readonly SloDefinition[], options: RulesOptions = {}): string {
  const list = Array.isArray(definitions) ? definitions : [definitions as SloDefinition];
  return yaml({ groups: list.map((d) => group(d, options)) });
}
