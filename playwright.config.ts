import { defineConfig, devices } from '@playwright/test';
import { ORIGIN } from './e2e/env';

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
    {
      name: 'chromium',
      use: {
        ...devices['Desktop Chrome'],
        launchOptions: {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
            '--autoplay-policy=no-user-gesture-required',
          ],
        },
      },
    },
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
