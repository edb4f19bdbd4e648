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

/**
 * Worklet modules are built apart, each one file with no imports: a module served under a strict CSP
 * or copied as-is by an app's bundler (`new URL('./x.js', import.meta.url)`) cannot load chunks. What
 * a worklet module provides, the library imports from it instead of carrying a second copy.
 */
const buildWorklets = (): Plugin => {
  const provided = new Map(Object.entries(worklets).flatMap(([name, w]) => w.provides.map((p) => [resolve(p), `./${name}.js`])));
  let outDir = output.outDir as string;
  return {
    name: 'earshot:worklets',
    apply: 'build',
    enforce: 'pre',
    configResolved(config) {
      outDir = config.build.outDir;
    },
    async resolveId(source, importer, options) {
      if (!importer || !source.startsWith('.')) return null;
      const id = (await this.resolve(source, importer, { ...options, skipSelf: true }))?.id;
      const file = id && provided.get(id);
      return file ? { id: file, external: true } : null;
    },
    async closeBundle() {
      for (const [name, { entry }] of Object.entries(worklets)) {
        await build({
          configFile: false,
          logLevel: 'warn',
          build: { ...output, outDir, emptyOutDir: false, lib: { entry, formats: ['es'], fileName: () => `${name}.js` } },
        });
      }
    },
  };
};

// Library build: one ESM file per public entry point, shared code split into chunks.
export default defineConfig({
  plugins: [buildWorklets()],
  build: {
    ...output,
    emptyOutDir: true,
    lib: {
      entry: entries,
      formats: ['es'],
      fileName: (_format, name) => `${name}.js`,
    },
    rollupOptions: {
      external: [/^@opentelemetry\//, /^@playwright\//, 'web-vitals', /^node:/],
    },
  },
});
