import type { TerserOptions } from 'vite';

/** Public entry points: package `exports` subpath -> source file. One list serves the build and the size budget. */
export const entries: Record<string, string> = {
  earshot: 'src/index.ts',
};

/** Members named `_x` are internal: mangled in the shipped bundles to keep them small. */
export const terserOptions: TerserOptions = {
  ecma: 2020,
  module: true,
  compress: { passes: 2 },
  mangle: { properties: { regex: /^_/ } },
};
