/**
 * The instruments SLO rules read, named once: the OTLP exporter records them under these names and
 * the rule generator queries them under their Prometheus names.
 *
 * Every ended turn adds 1 to `earshot.turns`, abandoned turns included (the rules leave them out),
 * with its `outcome`, whether it was good (`slo.good`), and, for a bad turn that is not abandoned,
 * the category of error budget it spent (`slo.category`, from `turn.slo.category`). Every ended
 * connection adds 1 to `earshot.connections` with its `outcome` (clean, dropped, abandoned).
 */
export const METRIC_TURNS = 'earshot.turns';
export const METRIC_CONNECTIONS = 'earshot.connections';
/** Units in braces are annotations: the Collector's Prometheus exporter drops them from the name. */
export const UNIT_TURNS = '{turn}';
export const UNIT_CONNECTIONS = '{connection}';

export const ATTR_OUTCOME = 'outcome';
/** A boolean attribute: `true` or `false` in Prometheus. */
export const ATTR_SLO_GOOD = 'slo.good';
/** One of `SloCategory`; absent on good and abandoned turns. */
export const ATTR_SLO_CATEGORY = 'slo.category';

/**
 * An OpenTelemetry metric or attribute name as the OpenTelemetry Collector's `prometheus` exporter
 * writes it: characters Prometheus does not allow (dots among them) become underscores, and a
 * counter gains `_total`. (Units in braces add nothing; the exporter's `namespace`, if set, would
 * prefix the name.)
 */
export function prometheusName(name: string, counter = false): string {
  const base = name.replace(/[^A-Za-z0-9_]+/g, '_');
  return counter ? `${base}_total` : base;
}

/** The series the rules query, as they arrive in Prometheus. */
export const PROMETHEUS = {
  turns: prometheusName(METRIC_TURNS, true),
  connections: prometheusName(METRIC_CONNECTIONS, true),
  outcome: prometheusName(ATTR_OUTCOME),
  good: prometheusName(ATTR_SLO_GOOD),
  category: prometheusName(ATTR_SLO_CATEGORY),
} as const;
