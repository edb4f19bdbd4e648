import { defineConfig, devices } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/chromium';
import { ORIGIN } from './e2e/env';

const browser = {
  ...devices['Desktop Chrome'],
  launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
};

// Real Chromium against a local server whose streams have known timing (e2e/server.ts).
// Two workers at most: the suite runs on two cores, and timing assertions need the headroom.
export default defineConfig({
  testDir: 'e2e',
  outputDir: 'e2e/artifacts/results',
  fullyParallel: true,
  workers: 2,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  // An accuracy scenario measures up to three times three runs; a loaded machine stretches each.
  timeout: 60_000,
  use: {
    baseURL: ORIGIN,
    headless: true,
    trace: 'retain-on-failure',
  },
  projects: [
    { name: 'chromium', testIgnore: /(demo|voice)\.spec\.ts/, use: browser },
    // The demo rebuilds dist/ as `npm run demo` does: only once every page that loads dist/ is done.
    { name: 'demo', testMatch: /demo\.spec\.ts/, dependencies: ['chromium'], use: browser },
    // Voice-to-voice holds each stage to 5 ms against a server and the page's own capture pace:
    // last, with nothing else on the two cores (beside another worker's tests, the page's capture
    // ran late enough to move the mapped end of speech past its bound on three runs in a row).
    { name: 'voice', testMatch: /voice\.spec\.ts/, dependencies: ['demo'], use: browser },
  ],
  webServer: {
    command: 'npx tsx e2e/server.ts',
    url: `${ORIGIN}/health`,
    reuseExistingServer: !process.env.CI,
    stdout: 'ignore',
    stderr: 'pipe',
    timeout: 30_000,
  },
});
