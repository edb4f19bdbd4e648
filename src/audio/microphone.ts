/**
 * Speech start and end on a live microphone (or any audio node), for voice turns: the end of the
 * user's speech is the turn's t0, and the reply's first audible sample its TTFA, so TTFA is the
 * voice-to-voice latency. Detection runs on the audio thread (vad-worklet.ts); this side maps its
 * times to performance.now().
 *
 * The mapping. The processor stamps each event with the render clock: context time of the quantum
 * that held the sample. `getOutputTimestamp()` pairs a context time at the output device with the
 * performance.now() at which it plays; the quantum being rendered is `outputLatency` ahead of the
 * device, so the quantum at context time T is processed at T + (performanceTime - contextTime)
 * - outputLatency. Its input samples were captured earlier by the capture path's latency, which a
 * MediaStream track reports in `getSettings().latency` where the browser knows it (0 otherwise).
 */
import { toHeardMs } from './clock';
import { VAD_PROCESSOR, type VadEvent, type VadOptions } from './vad';

export interface SpeechEvent {
  /** performance.now() ms at which the sample was captured: the first voiced one (start) or the last (end). */
  time: number;
  /** performance.now() ms at which the detector could tell (after `minSpeechMs`, or `hangoverMs` of silence). */
  detectedAt: number;
  /** Render-clock time of the sample, context seconds. */
  contextTime: number;
}

export interface MicrophoneOptions extends Omit<VadOptions, 'sampleRate'> {
  onSpeechStart?: (event: SpeechEvent) => void;
  onSpeechEnd?: (event: SpeechEvent) => void;
  /** Where the worklet module is served; default `vad-worklet.js` next to this module. */
  workletUrl?: string | URL;
}

export interface MicrophoneListener {
  /** The detector's node (one input, no output). */
  readonly node: AudioWorkletNode;
  /** Whether the user is speaking, as of the last event. */
  readonly speaking: boolean;
  /** Stops detecting and disconnects; the app's stream and its tracks are left as they are. */
  close(): void;
}

/** Capture latency of a stream's first audio track, ms, where the browser reports it. */
function captureLatencyMs(input: MediaStream | AudioNode): number {
  if (!(typeof MediaStream === 'function' && input instanceof MediaStream)) return 0;
  const settings = input.getAudioTracks()[0]?.getSettings() as (MediaTrackSettings & { latency?: number }) | undefined;
  const latency = settings?.latency;
  return typeof latency === 'number' && latency >= 0 && latency < 1 ? latency * 1000 : 0;
}

/**
 * Listens for speech on `input` (a MediaStream from getUserMedia, or an AudioNode) and calls
 * `onSpeechStart` / `onSpeechEnd` with performance.now() times. An app's callback that throws does
 * not stop detection. For an OfflineAudioContext, times are context ms.
 */
export async function listenToMicrophone(
  context: BaseAudioContext,
  input: MediaStream | AudioNode,
  options: MicrophoneOptions = {},
): Promise<MicrophoneListener> {
  const { onSpeechStart, onSpeechEnd, workletUrl, ...vad } = options;
  // The literal `new URL('./file', import.meta.url)` is what app bundlers recognise to ship the file.
  await context.audioWorklet.addModule(workletUrl ?? new URL(/* @vite-ignore */ './vad-worklet.js', import.meta.url));
  const node = new AudioWorkletNode(context, VAD_PROCESSOR, { numberOfInputs: 1, numberOfOutputs: 0, processorOptions: vad });
  const source = input instanceof AudioNode ? input : (context as AudioContext).createMediaStreamSource(input);
  source.connect(node);
  const inputLatency = captureLatencyMs(input);
  const toPerformance = (ms: number): number =>
    toHeardMs(context, ms) - ((context as Partial<AudioContext>).outputLatency ?? 0) * 1000 - inputLatency;
  let speaking = false;
  node.port.onmessage = ({ data }: MessageEvent<VadEvent>) => {
    speaking = data.type === 'speechstart';
    const callback = speaking ? onSpeechStart : onSpeechEnd;
    try {
      callback?.({ time: toPerformance(data.time), detectedAt: toPerformance(data.detectedAt), contextTime: data.time / 1000 });
    } catch (error) {
      // The app's callback failed: its error is its own, surfaced without stopping detection.
      queueMicrotask(() => {
        throw error;
      });
    }
  };
  return {
    node,
    get speaking() {
      return speaking;
    },
    close() {
      node.port.postMessage(0);
      source.disconnect(node);
      node.port.onmessage = null;
    },
  };
}
