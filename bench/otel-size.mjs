// What `earshot/otel` costs an app, in brotli bytes (quality 11):
//   - earshot's own code: the entry as the library build makes it, with the local chunks it
//     imports, every dependency (OpenTelemetry, web-vitals) left out;
//   - the entry with its dependencies bundled in, as an app importing only `earshot/otel` ships it;
//   - the same OpenTelemetry packages set up by hand (tracer and meter providers, OTLP/HTTP
//     exporters, W3C propagator, resource, web-vitals): what any OTLP export costs.
// The library build runs with the project's own Vite config, into a scratch directory removed at
// the end (dist/ is left alone). Run: node bench/otel-size.mjs
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { build } from 'vite';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Inside the repo, so the scratch builds resolve node_modules.
const scratch = mkdtempSync(join(ROOT, 'bench', '.otel-size-'));

const brotli = (buf) => brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

/** The file and every local chunk it imports, concatenated. */
function withImports(file, seen = new Set()) {
  if (!seen.has(file)) {
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    for (const [, path] of code.matchAll(/(?:from|import)\s*["'](\.[^"']+)["']/g)) withImports(join(dirname(file), path), seen);
  }
  return seen;
}
const sizeOf = (files) => {
  const raw = Buffer.concat([...files].map((f) => readFileSync(f)));
  return { min: raw.length, br: brotli(raw) };
};

/** An app's production bundle of `code` (one ESM file, everything bundled, minified). */
async function appBundle(name, code) {
  const entry = join(scratch, `${name}.mjs`);
  writeFileSync(entry, code);
  const outDir = join(scratch, `${name}-out`);
  await build({
    configFile: false,
    logLevel: 'warn',
    root: ROOT,
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      minify: 'terser',
      lib: { entry, formats: ['es'], fileName: () => `${name}.js` },
    },
  });
  return sizeOf(readdirSync(outDir).filter((f) => f.endsWith('.js')).map((f) => join(outDir, f)));
}

try {
  // 1. The entry as shipped: the project's library build, with only this entry.
  const libDir = join(scratch, 'lib');
  await build({
    configFile: join(ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    root: ROOT,
    build: {
      outDir: libDir,
      emptyOutDir: true,
      sourcemap: false,
      lib: { entry: { otel: join(ROOT, 'src/otel.ts') } },
      // Joins the config's externals: every dependency stays out, subpaths too.
      rollupOptions: { external: [/^@opentelemetry\//, /^web-vitals(\/|$)/] },
    },
  });
  const own = sizeOf(withImports(join(libDir, 'otel.js')));

  // 2. An app importing only `earshot/otel`.
  const bundled = await appBundle('with-otel', `export { otel } from ${JSON.stringify(join(libDir, 'otel.js'))};\n`);

  // 3. The same packages, set up by hand.
  const baseline = await appBundle(
    'otel-by-hand',
    `
import { trace, metrics } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { JsonTraceSerializer, JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { onCLS, onFCP, onINP, onLCP, onTTFB } from 'web-vitals';
export function setup(url, name) {
  const resource = defaultResource().merge(resourceFromAttributes({ 'service.name': name }));
  const tracerProvider = new WebTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: url + '/v1/traces' }))] });
  const meterProvider = new MeterProvider({ resource, readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: url + '/v1/metrics' }) })] });
  const meter = meterProvider.getMeter('app');
  for (const on of [onCLS, onFCP, onINP, onLCP, onTTFB]) on((m) => meter.createHistogram(m.name).record(m.value));
  return { tracer: tracerProvider.getTracer('app'), meter, propagator: new W3CTraceContextPropagator(), trace, metrics, JsonTraceSerializer, JsonMetricsSerializer };
}
`,
  );

  const row = (label, { min, br }) => console.log(`${label.padEnd(52)} ${String(br).padStart(7)} B brotli  (${min} B min)`);
  row("earshot/otel, earshot's own code alone", own);
  row('earshot/otel with its dependencies bundled', bundled);
  row('the same OTel packages and web-vitals, set up by hand', baseline);
  console.log(`${'earshot/otel over setting OTel up by hand'.padEnd(52)} ${String(bundled.br - baseline.br).padStart(7)} B brotli`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
