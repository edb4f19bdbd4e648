#!/usr/bin/env node
/// <reference types="node" />
/**
 * `earshot slo-rules <config> [--openslo] [--out <file>]`: Prometheus rules (or OpenSLO documents)
 * for the SLOs a config module exports. The module's default export is an SLO definition or an
 * array of them; an optional named export `options` holds the `RulesOptions` (and OpenSLO's `service`).
 */
import { realpathSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SloDefinition } from './definition';
import { openSlo, type OpenSloOptions } from './openslo';
import { sloRules, type RulesOptions } from './rules';

const USAGE = `usage: earshot slo-rules <config.ts|.js> [--openslo] [--out <file>]

  Writes Prometheus recording and alerting rules for the SLOs the config exports (default export:
  an SLO definition or an array of them; named export \`options\`: { matchers, labels, service }).
  --openslo   write OpenSLO (openslo/v1) documents instead
  --out FILE  write to FILE instead of standard output
`;

interface Output {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

interface ConfigModule {
  default?: SloDefinition | SloDefinition[];
  options?: RulesOptions & OpenSloOptions;
}

/** Import the config; TypeScript through tsx where Node cannot strip types itself (before 22.6). */
async function load(file: string): Promise<ConfigModule> {
  const url = pathToFileURL(resolve(file)).href;
  try {
    return (await import(url)) as ConfigModule;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw error;
    // tsx is the app's own, optional: a specifier built at run time, so no bundler pulls it in.
    const tsx = ['tsx', 'esm', 'api'].join('/');
    const api = (await import(tsx).catch(() => undefined)) as
      | { tsImport: (specifier: string, parent: string) => Promise<ConfigModule> }
      | undefined;
    if (!api) throw new Error(`${file}: this Node cannot load TypeScript; install tsx (npm i -D tsx) or write the config as .mjs`);
    const module = await api.tsImport(url, import.meta.url);
    // Outside a `"type": "module"` package tsx compiles the file as CommonJS, and its exports arrive
    // as the default export. (No SLO definition or array has a field named `default`.)
    const exports = module.default as ConfigModule | undefined;
    return typeof exports === 'object' && exports !== null && 'default' in exports ? exports : module;
  }
}

/** Run the command line `args` (without `node` and the script); resolves to the exit code. */
export async function main(args: string[], output: Output = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) }): Promise<number> {
  const [command, ...rest] = args;
  if (command === '--help' || command === '-h') {
    output.stdout(USAGE);
    return 0;
  }
  const files: string[] = [];
  let out: string | undefined;
  let openslo = false;
  let wrong = command !== 'slo-rules';
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--openslo') openslo = true;
    else if ((arg === '--out' || arg === '-o') && i + 1 < rest.length) out = rest[++i];
    else if (arg.startsWith('-')) wrong = true;
    else files.push(arg);
  }
  const [config] = files;
  if (wrong || files.length !== 1) {
    output.stderr(USAGE);
    return 2;
  }
  try {
    const module = await load(config);
    if (module.default === undefined) throw new Error(`${config}: no default export (an SLO definition or an array of them)`);
    const text = openslo ? openSlo(module.default, module.options) : sloRules(module.default, module.options);
    if (out) await writeFile(out, text);
    else output.stdout(text);
    return 0;
  } catch (error) {
    output.stderr(`earshot slo-rules: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

/** Run when executed (as the package's bin, or directly), not when imported. */
const isEntry = () => {
  try {
    return realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
};
if (isEntry()) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
