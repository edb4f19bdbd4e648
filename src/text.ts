/**
 * earshot/text: a jitter buffer for streamed text. Paces tokens and transcript words to the reader
 * at a steady rate within a bounded added delay, and reports the jitter before and after and the
 * delay it added. Usable without the rest of the SDK; with it, a turn learns when its first word
 * was displayed.
 */
export { TextSmoother } from './text/smoother';
export type { TextSmootherOptions, TextSmootherStats } from './text/smoother';
export { smoothText } from './text/paced';
export type { SmoothText, SmoothTextOptions } from './text/paced';
