/** What the clock mapping reads of an AudioContext (an OfflineAudioContext has no output timestamp). */
export interface ContextClock {
  readonly currentTime: number;
  readonly baseLatency?: number;
  readonly outputLatency?: number;
  getOutputTimestamp?(): AudioTimestamp;
}

/*
 * The processor runs on the render clock: context time (ms) of the quantum being rendered.
 * `getOutputTimestamp()` pairs the context time at the output device with the performance.now()
 * at which it is heard; the quantum being rendered is `outputLatency` ahead of the device. An
 * OfflineAudioContext renders on a virtual clock: its times are context ms already.
 */

/** performance.now() ms minus context ms at the output (0 for an offline context). */
const offset = (ctx: ContextClock): number => {
  const ts = ctx.getOutputTimestamp?.();
  // Until the output has started, Chromium pairs the context time with a performanceTime of 0 (seen
  // under load in CI): the render position, heard one output latency from now, stands in.
  return !ts ? 0 : ts.performanceTime! > 0 ? ts.performanceTime! - ts.contextTime! * 1000 : performance.now() - (ctx.currentTime - (ctx.outputLatency ?? 0)) * 1000;
};

/** Render-clock ms of an arrival at `at` (performance.now() ms, for an offline context context ms; default now). */
export function toRenderMs(ctx: ContextClock, at: number | undefined, now: number): number {
  const t = at ?? now;
  const render = ctx.currentTime * 1000;
  if (!ctx.getOutputTimestamp) return at ?? render;
  // currentTime, the render position after the last rendered burst, is coarse (a callback's worth)
  // but never stale: it bounds the mapping before the first timestamp and while suspended.
  return Math.min(t - offset(ctx) + (ctx.outputLatency ?? 0) * 1000, render + t - now + (ctx.baseLatency ?? 0) * 1000);
}

/** performance.now() ms at which render-clock ms `ms` is heard (for an offline context, context ms). */
export const toHeardMs = (ctx: ContextClock, ms: number): number => ms + offset(ctx);
