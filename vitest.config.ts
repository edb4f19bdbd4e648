import { defineConfig } from 'vitest/config';

// Unit tests run in Node; the browser suite lives in e2e/ and runs under Playwright.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
