/**
 * The player's AudioWorklet module, built self-contained (dist/jitter-buffer-worklet.js): it is
 * served as a file (strict CSP, no blob:) and copied as-is by an app's bundler, so it imports nothing.
 * It also exports the algorithm, which the main-thread entry re-exports from here: one copy to load.
 * The audio thread has no performance.now(): its clock is the render position.
 */
import { Engine } from './engine';
import { PROCESSOR, type ProcessorOptions } from './protocol';
import { RingReader } from './ring';

export { JitterBuffer } from './jitter-buffer';

// AudioWorkletGlobalScope, which TypeScript's DOM library does not describe.
declare const sampleRate: number;
declare const currentFrame: number;
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, processor: new (options: { processorOptions: ProcessorOptions }) => AudioWorkletProcessor): void;

// Only in the worklet scope: on the main thread this module just provides the algorithm.
if (typeof registerProcessor === 'function') {
  registerProcessor(
    PROCESSOR,
    class extends AudioWorkletProcessor {
      private declare readonly _engine: Engine;
      /** The interleaved block pulled from the buffer, sized on the first quantum. */
      private declare _block: Float32Array | undefined;

      constructor({ processorOptions: o }: { processorOptions: ProcessorOptions }) {
        super();
        this._engine = new Engine(
          { ...o, outputSampleRate: sampleRate },
          (...report) => this.port.postMessage(report),
          o.ring && new RingReader(o.ring),
        );
        this.port.onmessage = (e) => this._engine._receive(e.data);
      }

      process(_inputs: Float32Array[][], outputs: Float32Array[][]): boolean {
        const out = outputs[0];
        const frames = out[0].length;
        const ch = out.length;
        const block = (this._block ??= new Float32Array(frames * ch));
        this._engine._render(block, (currentFrame * 1000) / sampleRate);
        for (let c = 0; c < ch; c++) for (let k = 0; k < frames; k++) out[c][k] = block[k * ch + c];
        return this._engine._alive;
      }
    },
  );
}
