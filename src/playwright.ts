/**
 * earshot/playwright: latency tests in Playwright. A fixture that collects the turns every page of
 * a test reports (from the app's own earshot monitor, or from earshot injected into an app that
 * has none), shapes the network (CDP emulation, or a local proxy that adds jitter per chunk and
 * per frame), and asserts SLOs with `expect(earshot).toMeetSLO(...)`. Node only.
 */
export { expect, test } from './playwright/fixture';
export type {
  AdapterName,
  EarshotFixture,
  EarshotOptions,
  EarshotTestOptions,
  NetworkConditions,
  PageHook,
  SloSubject,
  WaitOptions,
} from './playwright/fixture';
export { checkSlo, formatVerdict } from './playwright/slo';
export type { DistributionBounds, SloAssertion, SloCheck, SloVerdict } from './playwright/slo';
export { startShapingProxy } from './playwright/shaping';
export type { Direction, ShapedMessage, ShapingOptions, ShapingProxy, ShapingProxyOptions } from './playwright/shaping';
