import type { Adapter } from '../core/types';
import { isCount } from '../core/options';
import { info } from './wire';

export interface PcmOptions {
  sampleRate: number;
  /** Default 1. */
  channels?: number;
  /** Default `int16`. */
  format?: 'int16' | 'float32';
}

/**
 * Raw PCM audio: every binary message or body chunk is content carrying `byteLength` worth of media
 * (no text tokens); text messages are noise. Every sent message is a request; an app that streams
 * its microphone on the same socket can use `{ ...adapters.pcm(o), sent: () => 'noise' }` and start
 * voice turns itself.
 */
export function pcm({ sampleRate, channels = 1, format = 'int16' }: PcmOptions): Adapter {
  const bytesPerMs = (sampleRate * channels * (format === 'float32' ? 4 : 2)) / 1000;
  if (!isCount(bytesPerMs) || !bytesPerMs) {
    throw new RangeError(`earshot: pcm needs sampleRate and channels > 0 (got ${sampleRate}, ${channels})`);
  }
  return {
    name: 'pcm',
    framing: 'chunk',
    // A Blob's size, or a buffer's or view's byteLength.
    received: (data) =>
      typeof data === 'string'
        ? 'noise'
        : info('content', undefined, undefined, ((data as Blob).size ?? (data as ArrayBuffer).byteLength) / bytesPerMs, 0),
  };
}
