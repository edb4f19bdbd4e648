// Size budget: each public entry, minified by the build, must stay within its brotli budget.
// Run after `npm run build`; exits non-zero when a budget is exceeded.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { brotliCompressSync, constants } from 'node:zlib';

/** Budgets in bytes of brotli (quality 11), for the files as the build writes them. */
const budgets = [
  { name: 'earshot (core + transports, ESM)', files: ['dist/earshot.js'], limit: 6 * 1024 },
  // The entry imports the algorithm from the worklet module, so the pair holds it once.
  { name: 'earshot/jitter-buffer (player + worklet, ESM)', files: ['dist/jitter-buffer.js', 'dist/jitter-buffer-worklet.js'], limit: 5 * 1024 },
  { name: 'earshot/webrtc (peer connections, ESM)', files: ['dist/webrtc.js'], limit: 4 * 1024 },
  { name: 'earshot/text (text smoothing, ESM)', files: ['dist/text.js'], limit: 2.5 * 1024 },
  { name: 'earshot/microphone (voice activity, voice turns + worklet, ESM)', files: ['dist/microphone.js', 'dist/vad-worklet.js'], limit: 2.5 * 1024 },
];

const brotli = (buf) =>
  brotliCompressSync(buf, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

/**
 * The code as an app's bundle carries it, which is what a budget is for (size-limit measures the
 * same way): the app's bundler drops the source-map comment, and its minifier the `@__PURE__`
 * annotations, which Vite keeps in a library build for that bundler's tree shaking.
 */
const asBundled = (code) => code.replace(/\/\*\s*[#@]__PURE__\s*\*\//g, '').replace(/^\/\/# sourceMappingURL=.*$/gm, '');

/** The files and every local chunk they import, as a browser would load them. */
function withImports(files, seen = new Set()) {
  for (const file of files) {
    if (seen.has(file)) continue;
    seen.add(file);
    const code = readFileSync(file, 'utf8');
    const local = [...code.matchAll(/(?:from|import)\s*["'](\.[^"']+)["']/g)].map((m) => join(dirname(file), m[1]));
    withImports(local, seen);
  }
  return seen;
}

let failed = false;
for (const { name, files, limit } of budgets) {
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length) {
    console.error(`size: ${name}: missing ${missing.join(', ')} (run npm run build)`);
    failed = true;
    continue;
  }
  const contents = [...withImports(files)].map((f) => readFileSync(f, 'utf8'));
  const shipped = Buffer.from(contents.join(''));
  const bundled = Buffer.from(contents.map(asBundled).join(''));
  const size = brotli(bundled);
  const ok = size <= limit;
  failed ||= !ok;
  console.log(
    `size: ${ok ? 'ok  ' : 'OVER'} ${name}: ${size} B brotli (${bundled.length} B min) / budget ${limit} B; ` +
      `as shipped, with source-map comment and annotations: ${brotli(shipped)} B`,
  );
}
process.exit(failed ? 1 : 0);
