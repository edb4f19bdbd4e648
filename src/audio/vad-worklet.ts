/**
 * The voice activity detector's AudioWorklet module, built self-contained (dist/vad-worklet.js) so
 * it loads under a strict CSP and is copied as-is by an app's bundler. It runs `Vad` on the first
 * channel of its input, on the render clock (context ms), and posts each event to the main thread.
 * It also exports the algorithm, so a main-thread entry can take it from here: one copy to load.
 */
import { Vad, VAD_PROCESSOR, type VadOptions } from './vad';

export { Vad, VAD_PROCESSOR } from './vad';

// AudioWorkletGlobalScope, which TypeScript's DOM library does not describe.
declare const sampleRate: number;
declare const currentFrame: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(
  name: string,
  processor: new (options: { processorOptions: Omit<VadOptions, 'sampleRate'> }) => AudioWorkletProcessor,
): void;

// Only in the worklet scope: on the main thread this module just provides the algorithm.
if (typeof registerProcessor === 'function') {
  registerProcessor(
    VAD_PROCESSOR,
    class extends AudioWorkletProcessor {
      readonly #vad: Vad;
      /** Fed when the input has no channel (track ended or muted): the speech it was in ends. */
      readonly #silence = new Float32Array(128);
      #alive = true;

      constructor({ processorOptions }: { processorOptions: Omit<VadOptions, 'sampleRate'> }) {
        super();
        this.#vad = new Vad({ ...processorOptions, sampleRate }, (event) => this.port.postMessage(event));
        this.port.onmessage = () => {
          this.#alive = false;
        };
      }

      process(inputs: Float32Array[][]): boolean {
        // The first sample of this quantum, on the render clock.
        const at = (currentFrame * 1000) / sampleRate;
        this.#vad.push(inputs[0]?.[0] ?? this.#silence, at);
        return this.#alive;
      }
    },
  );
}
