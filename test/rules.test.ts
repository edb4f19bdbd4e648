import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/slo/cli';
import { defineSlo, openSlo, presets, sloRules, voiceAgent, type SloDefinition } from '../src/slo';
import * as config from './fixtures/slo/slo.config';

const FIXTURES = join(import.meta.dirname, 'fixtures/slo');
const GOLDEN = join(FIXTURES, 'voice-agent.rules.yml');
const REGENERATE = 'npx tsx src/slo/cli.ts slo-rules test/fixtures/slo/slo.config.ts --out test/fixtures/slo/voice-agent.rules.yml';

const scratch = mkdtempSync(join(tmpdir(), 'earshot-rules-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// promtool is Debian's `prometheus` package. Without it the promtool tests are skipped locally,
// saying so; CI sets CI=true, so there they run and fail until it is installed.
const HAVE_PROMTOOL = !spawnSync('promtool', ['--version']).error;
const PROMTOOL_MISSING = 'promtool not found: install it (sudo apt-get install -y prometheus) to run this test';
const withPromtool = HAVE_PROMTOOL || process.env.CI ? it : it.skip;
/** promtool takes a few seconds to evaluate 6 hours of rules; more on a busy machine. */
const PROMTOOL_TIMEOUT = 60_000;
const promtoolTitle = (title: string) => (HAVE_PROMTOOL ? title : `${title} (${PROMTOOL_MISSING})`);
if (!HAVE_PROMTOOL && !process.env.CI) console.warn(`test/rules.test.ts: skipping the promtool tests: ${PROMTOOL_MISSING}`);

function promtool(...args: string[]): string {
  const run = spawnSync('promtool', args, { encoding: 'utf8', cwd: FIXTURES });
  if (run.error) throw new Error(PROMTOOL_MISSING);
  expect(run.status, `promtool ${args.join(' ')}:\n${run.stdout}${run.stderr}`).toBe(0);
  return run.stdout;
}

/** Rules written to a scratch file, for promtool. */
function rulesFile(name: string, text: string): string {
  const file = join(scratch, `${name}.rules.yml`);
  writeFileSync(file, text);
  return file;
}

describe('sloRules', () => {
  it(`matches the committed rules for the fixture (regenerate: ${REGENERATE})`, () => {
    expect(sloRules(config.default, config.options)).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('records ratios over 5m..3d and the alert windows, burn rates, budget left and spent', () => {
    const text = sloRules(voiceAgent);
    const records = [...text.matchAll(/record: (\S+)/g)].map((m) => m[1]);
    const windows = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'];
    const perIndicator = [
      ...windows.flatMap((w) => [`earshot:slo_events:increase${w}`, `earshot:slo_errors:ratio_rate${w}`, `earshot:slo_burn_rate:ratio_rate${w}`]),
      'earshot:slo_budget_remaining:ratio',
    ];
    // Turns, with the budget spent by category; then connections, as the preset bounds drops.
    expect(records).toEqual([...perIndicator, 'earshot:slo_budget_spent:ratio', ...perIndicator]);
    expect(text).toContain(
      `expr: '(sum(rate(earshot_turns_total{outcome!="abandoned",slo_good="false"}[1h])) or vector(0)) / sum(rate(earshot_turns_total{outcome!="abandoned"}[1h]))'`,
    );
    expect(text).toContain(`expr: 'earshot:slo_errors:ratio_rate6h{slo="voice-agent",sli="turns"} / 0.01'`);
    expect(text).toContain(
      `expr: '1 - (sum(increase(earshot_turns_total{outcome!="abandoned",slo_good="false"}[30d])) or vector(0)) / sum(increase(earshot_turns_total{outcome!="abandoned"}[30d])) / 0.01'`,
    );
    expect(text).toContain(
      `expr: 'sum by (slo_category) (increase(earshot_turns_total{outcome!="abandoned",slo_good="false"}[30d])) / on() group_left() sum(increase(earshot_turns_total{outcome!="abandoned"}[30d])) / 0.01'`,
    );
    expect(text).toContain(`expr: '(sum(rate(earshot_connections_total{outcome="dropped"}[5m])) or vector(0)) / sum(rate(earshot_connections_total{outcome!="abandoned"}[5m]))'`);
  });

  it('alerts on each window pair at factor × budget, with at least minEvents in each window', () => {
    const slo = defineSlo({
      name: 'chat',
      objective: 0.995,
      minEvents: 25,
      windows: [
        { longMs: 3_600_000, shortMs: 300_000, factor: 14.4 },
        { longMs: 86_400_000, shortMs: 7_200_000, factor: 3 },
        { longMs: 86_400_000, shortMs: 7_200_000, factor: 2, severity: 'page' },
      ],
    });
    const text = sloRules(slo);
    const alerts = text.slice(text.indexOf('- alert:'));
    const conditions = [...alerts.matchAll(/(\S+) >= (\S+)\n\s+and (\S+) >= \2\n\s+and (\S+) >= (\d+)\n\s+and (\S+) >= \5/g)].map((m) => m.slice(1).join(' '));
    const ref = (record: string) => `${record}{slo="chat",sli="turns"}`;
    expect(conditions).toEqual([
      // 14.4 × 0.5% and 2 × 0.5% page; 3 × 0.5% over 1d tickets.
      `${ref('earshot:slo_errors:ratio_rate1h')} 0.072 ${ref('earshot:slo_errors:ratio_rate5m')} ${ref('earshot:slo_events:increase1h')} 25 ${ref('earshot:slo_events:increase5m')}`,
      `${ref('earshot:slo_errors:ratio_rate1d')} 0.01 ${ref('earshot:slo_errors:ratio_rate2h')} ${ref('earshot:slo_events:increase1d')} 25 ${ref('earshot:slo_events:increase2h')}`,
      `${ref('earshot:slo_errors:ratio_rate1d')} 0.015 ${ref('earshot:slo_errors:ratio_rate2h')} ${ref('earshot:slo_events:increase1d')} 25 ${ref('earshot:slo_events:increase2h')}`,
    ]);
    expect([...alerts.matchAll(/severity: (\w+)/g)].map((m) => m[1])).toEqual(['page', 'ticket']);
    expect(alerts).toContain('Fires at 14.4x over 1h and 5m (budget gone in 2.1 days), or 2x over 1d and 2h (budget gone in 15 days).');
  });

  it('adds matchers to every query and labels to every alert; escapes values; rejects bad label names', () => {
    const text = sloRules(defineSlo({ name: 'x' }), { matchers: { job: 'a"b\\c' }, labels: { team: 'voice' } });
    const selectors = [...text.matchAll(/earshot_turns_total\{([^}]*)\}/g)].map((m) => m[1]);
    expect(selectors.length).toBeGreaterThan(0);
    for (const s of selectors) expect(s.startsWith('job="a\\"b\\\\c",')).toBe(true);
    expect([...text.matchAll(/team: voice/g)]).toHaveLength(2);
    expect(() => sloRules(voiceAgent, { matchers: { 'service.name': 'x' } })).toThrow('"service.name" is not a Prometheus label name');
    expect(() => sloRules({ name: 'x', objective: 1 })).toThrow('objective must be in [0, 1)');
  });

  withPromtool(promtoolTitle('passes promtool check rules, for every preset and for several SLOs in one file'), () => {
    for (const preset of Object.values(presets)) promtool('check', 'rules', rulesFile(preset.name, sloRules(preset)));
    const all = Object.values(presets) as SloDefinition[];
    const output = promtool('check', 'rules', rulesFile('all', sloRules(all, { matchers: { job: 'web' } })));
    // 7 windows × 3 records + budget left and spent per turn indicator; connections (the voice agent
    // only) without the spent; a page and a ticket alert per indicator.
    expect(output).toContain(`SUCCESS: ${4 * 23 + 22 + 5 * 2} rules found`);
  }, PROMTOOL_TIMEOUT);

  withPromtool(promtoolTitle('pages on a fast burn and not on a brief spike (promtool test rules)'), () => {
    promtool('check', 'rules', GOLDEN);
    expect(promtool('test', 'rules', 'voice-agent.test.yml')).toContain('SUCCESS');
  }, PROMTOOL_TIMEOUT);
});

describe('openSlo', () => {
  it('writes one openslo/v1 SLO per indicator', () => {
    const text = openSlo(defineSlo({ name: 'chat', description: 'Chat: first token within 100 ms', ttftMs: 100, objective: 0.995, dropRate: 0.01 }), {
      service: 'web-chat',
      matchers: { job: 'web' },
    });
    const document = (name: string, description: string, indicator: string, bad: string, total: string, display: string, target: number) =>
      [
        'apiVersion: openslo/v1',
        'kind: SLO',
        'metadata:',
        `  name: ${name}`,
        'spec:',
        `  description: '${description}'`,
        '  service: web-chat',
        '  indicator:',
        '    metadata:',
        `      name: ${indicator}`,
        '    spec:',
        '      ratioMetric:',
        '        counter: true',
        '        bad:',
        '          metricSource:',
        '            type: Prometheus',
        '            spec:',
        `              query: '${bad}'`,
        '        total:',
        '          metricSource:',
        '            type: Prometheus',
        '            spec:',
        `              query: '${total}'`,
        '  timeWindow:',
        "    - duration: '30d'",
        '      isRolling: true',
        '  budgetingMethod: Occurrences',
        '  objectives:',
        `    - displayName: '${display}'`,
        `      target: ${target}`,
        '',
      ].join('\n');
    expect(text).toBe(
      document(
        'chat',
        'Chat: first token within 100 ms',
        'chat-good-turns',
        'sum(earshot_turns_total{job="web",outcome!="abandoned",slo_good="false"})',
        'sum(earshot_turns_total{job="web",outcome!="abandoned"})',
        'Good turns',
        0.995,
      ) +
        '---\n' +
        document(
          'chat-connections',
          'Connections of chat that end without a drop',
          'chat-clean-connections',
          'sum(earshot_connections_total{job="web",outcome="dropped"})',
          'sum(earshot_connections_total{job="web",outcome!="abandoned"})',
          'Clean connections',
          0.99,
        ),
    );
  });
});

describe('earshot slo-rules', () => {
  const run = async (...args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await main(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    return { code, stdout, stderr };
  };
  const fixture = join(FIXTURES, 'slo.config.ts');

  it('prints the rules of a config module, or writes them with --out', async () => {
    expect(await run('slo-rules', fixture)).toEqual({ code: 0, stdout: readFileSync(GOLDEN, 'utf8'), stderr: '' });
    const out = join(scratch, 'out.yml');
    expect(await run('slo-rules', fixture, '--out', out)).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('prints OpenSLO with --openslo', async () => {
    const { code, stdout } = await run('slo-rules', '--openslo', fixture);
    expect(code).toBe(0);
    expect(stdout).toBe(openSlo(config.default, config.options));
  });

  it('exits 2 with the usage on a wrong command line, and 1 on a bad config', async () => {
    for (const args of [[], ['rules', fixture], ['slo-rules'], ['slo-rules', fixture, 'extra'], ['slo-rules', '--bogus', fixture]]) {
      const { code, stderr } = await run(...args);
      expect([code, stderr.split('\n')[0]], args.join(' ')).toEqual([2, 'usage: earshot slo-rules <config.ts|.js> [--openslo] [--out <file>]']);
    }
    const empty = join(scratch, 'empty.mjs');
    writeFileSync(empty, 'export const options = {};\n');
    expect(await run('slo-rules', empty)).toEqual({ code: 1, stdout: '', stderr: `earshot slo-rules: ${empty}: no default export (an SLO definition or an array of them)\n` });
    const wrong = join(scratch, 'wrong.mjs');
    writeFileSync(wrong, "export default { name: 'x', ttft: 300 };\n");
    expect(await run('slo-rules', wrong)).toEqual({ code: 1, stdout: '', stderr: 'earshot slo-rules: earshot: SLO "x": unknown field "ttft"\n' });
  });
});
