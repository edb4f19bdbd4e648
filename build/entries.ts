import type { TerserOptions } from 'vite';

/** Public entry points: package `exports` subpath -> source file. One list serves the build and the size budget. */
export const entries: Record<string, string> = {
  earshot: 'src/index.ts',
  'jitter-buffer': 'src/jitter-buffer.ts',
  webrtc: 'src/webrtc.ts',
  otel: 'src/otel.ts',
  text: 'src/text.ts',
  slo: 'src/slo.ts',
  'slo-cli': 'src/slo/cli.ts',
  server: 'src/server.ts',
  microphone: 'src/microphone.ts',
  playwright: 'src/playwright.ts',
};

/**
 * AudioWorklet modules: output file name -> source, and the modules it also exports to the main
 * thread. Each is built self-contained; the library build imports those modules from the worklet
 * file rather than bundling a second copy (see vite.config.ts).
 */
export const worklets: Record<string, { entry: string; provides: string[] }> = {
  'jitter-buffer-worklet': { entry: 'src/audio/worklet.ts', provides: ['src/audio/jitter-buffer.ts'] },
  'vad-worklet': { entry: 'src/audio/vad-worklet.ts', provides: ['src/audio/vad.ts'] },
};

/** Members named `_x` are internal: mangled in the shipped bundles to keep them small. */
export const terserOptions: TerserOptions = {
  ecma: 2020,
  module: true,
  compress: { passes: 3, pure_getters: true, unsafe_arrows: true, unsafe_methods: true, keep_fargs: false },
  format: { comments: false, preserve_annotations: false },
  mangle: { properties: { regex: /^_/ } },
};
