import { resolve } from 'node:path';
import { build, defineConfig, type Plugin } from 'vite';
import { entries, terserOptions, worklets } from './build/entries.ts';

const output = {
  outDir: 'dist',
  target: 'es2022',
  sourcemap: true,
  minify: 'terser',
  terserOptions,
} as const;

const external = [/^@opentelemetry\//, /^@playwright\//, /^web-vitals(\/|$)/, /^node:/];

/**
 * What a worklet module provides, an entry imports from it rather than carrying a second copy.
 * Worklet modules are one file each with no imports: a module served under a strict CSP or copied
 * as-is by an app's bundler (`new URL('./x.js', import.meta.url)`) cannot load chunks.
 */
const importFromWorklets = (): Plugin => {
  const provided = new Map(Object.entries(worklets).flatMap(([name, w]) => w.provides.map((p) => [resolve(p), `./${name}.js`])));
  return {
    name: 'earshot:import-from-worklets',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (!importer || !source.startsWith('.')) return null;
      const id = (await this.resolve(source, importer, { ...options, skipSelf: true }))?.id;
      const file = id && provided.get(id);
      return file ? { id: file, external: true } : null;
    },
  };
};

/**
 * Every entry point and worklet is built apart, self-contained: entries share no chunks, so one
 * entry's imports never move code out of another (the core's size budget counts what it loads),
 * and members mangled per build never cross a file boundary.
 */
const buildApart = (): Plugin => {
  let outDir = output.outDir as string;
  const one = (entry: string, fileName: string, plugins: Plugin[] = []) =>
    build({
      configFile: false,
      logLevel: 'warn',
      plugins,
      build: {
        ...output,
        outDir,
        emptyOutDir: false,
        lib: { entry, formats: ['es'], fileName: () => fileName },
        rollupOptions: { external },
      },
    });
  return {
    name: 'earshot:build-apart',
    apply: 'build',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    async closeBundle() {
      for (const [name, { entry }] of Object.entries(worklets)) await one(entry, `${name}.js`);
      for (const [name, entry] of Object.entries(entries).slice(1)) await one(entry, `${name}.js`, [importFromWorklets()]);
    },
  };
};

// Library build: the first entry (the core) here, every other one apart (see buildApart).
const [core, coreEntry] = Object.entries(entries)[0]!;
export default defineConfig({
  plugins: [buildApart()],
  build: {
    ...output,
    emptyOutDir: true,
    lib: {
      entry: { [core]: coreEntry },
      formats: ['es'],
      fileName: (_format, name) => `${name}.js`,
    },
    rollupOptions: { external },
  },
});
