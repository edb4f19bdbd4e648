/**
 * Voice activity test page: `listenToMicrophone` on the microphone, which the spec feeds from a WAV
 * file (Chromium's fake capture device). The module is built by e2e/vad.spec.ts into
 * /e2e/artifacts/vad-app/ with its worklet beside it; specs call `window.vadPage`.
 */
import type * as Microphone from '../../src/audio/microphone';
import type { SpeechEvent } from '../../src/audio/microphone';

export interface PageSpeechEvent extends SpeechEvent {
  type: 'start' | 'end';
  /** performance.now() when the page's callback ran. */
  receivedAt: number;
}

export interface ListenResult {
  /** performance.now() just before getUserMedia, and when it resolved. */
  requestedAt: number;
  streamAt: number;
  sampleRate: number;
  outputLatency: number;
  settings: MediaTrackSettings;
}

declare global {
  interface Window {
    vadPage: {
      listen(constraints: MediaTrackConstraints, options?: Microphone.MicrophoneOptions): Promise<ListenResult>;
      events: PageSpeechEvent[];
    };
  }
}

const mic = (await import('/e2e/artifacts/vad-app/microphone.js' as string)) as typeof Microphone;
const events: PageSpeechEvent[] = [];

window.vadPage = {
  events,
  async listen(constraints, options = {}) {
    const ctx = new AudioContext();
    await ctx.resume();
    // Load the worklet before the capture starts, so no speech is missed while it loads.
    await ctx.audioWorklet.addModule('/e2e/artifacts/vad-app/vad-worklet.js');
    const requestedAt = performance.now();
    const stream = await navigator.mediaDevices.getUserMedia({ audio: constraints });
    const streamAt = performance.now();
    const record = (type: 'start' | 'end') => (e: SpeechEvent) => events.push({ type, ...e, receivedAt: performance.now() });
    await mic.listenToMicrophone(ctx, stream, { ...options, onSpeechStart: record('start'), onSpeechEnd: record('end') });
    return { requestedAt, streamAt, sampleRate: ctx.sampleRate, outputLatency: ctx.outputLatency, settings: stream.getAudioTracks()[0].getSettings() };
  },
};
