/** The same SLOs as OpenSLO documents (openslo/v1), for tools that read the vendor-neutral format. */
import { defineSlo, type SloDefinition } from './definition';
import { decimal, duration, yaml, type Yaml } from './format';
import { indicators, type RulesOptions } from './rules';

export interface OpenSloOptions extends Pick<RulesOptions, 'matchers'> {
  /** `spec.service` of every SLO. Default: the SLO's name. */
  service?: string;
}

/**
 * One OpenSLO `SLO` document per indicator: the turns (good = `slo.good`, abandoned left out), and
 * the connections when the SLO sets `dropRate`. Each counts occurrences over the SLO's rolling
 * window, with its SLI inline as a ratio of Prometheus counters. Multi-window burn-rate alerts have
 * no OpenSLO form (an AlertCondition has one lookback window): use `sloRules` for those.
 */
export function openSlo(definitions: SloDefinition | readonly SloDefinition[], options: OpenSloOptions = {}): string {
  const list = Array.isArray(definitions) ? definitions : [definitions as SloDefinition];
  const documents = list.flatMap((definition) => {
    const slo = defineSlo(definition);
    return indicators(slo, options.matchers ?? {}).map(({ sli, valid, bad, budget }): Yaml => {
      const name = sli === 'turns' ? slo.name : `${slo.name}-${sli}`;
      const source = (query: string) => ({ metricSource: { type: 'Prometheus', spec: { query: `sum(${query})` } } });
      return {
        apiVersion: 'openslo/v1',
        kind: 'SLO',
        metadata: { name },
        spec: {
          description: sli === 'turns' ? slo.description : `Connections of ${slo.name} that end without a drop`,
          service: options.service ?? slo.name,
          indicator: {
            metadata: { name: `${slo.name}-${sli === 'turns' ? 'good-turns' : 'clean-connections'}` },
            spec: { ratioMetric: { counter: true, bad: source(bad), total: source(valid) } },
          },
          timeWindow: [{ duration: duration(slo.windowMs), isRolling: true }],
          budgetingMethod: 'Occurrences',
          objectives: [{ displayName: sli === 'turns' ? 'Good turns' : 'Clean connections', target: decimal(1 - budget) }],
        },
      };
    });
  });
  return documents.map((d) => yaml(d)).join('---\n');
}
