import { defineConfig } from 'vite';
import { entries, terserOptions } from './build/entries.ts';

// Library build: one ESM file per public entry point, shared code split into chunks.
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    minify: 'terser',
    terserOptions,
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
