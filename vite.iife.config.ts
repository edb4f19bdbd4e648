import { defineConfig } from 'vite';
import { terserOptions } from './build/entries.ts';

// Script-tag build: `<script src="earshot.iife.js">` exposes `window.Earshot`.
export default defineConfig({
  build: {
    outDir: 'dist',
    emptyOutDir: false,
    target: 'es2022',
    minify: 'terser',
    terserOptions,
    lib: {
      entry: 'src/index.ts',
      name: 'Earshot',
      formats: ['iife'],
      fileName: () => 'earshot.iife.js',
    },
  },
});
