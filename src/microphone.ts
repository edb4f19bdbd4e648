/**
 * earshot/microphone: voice activity on the user's microphone, on an AudioWorklet. Speech start and
 * end come with the `performance.now()` time their audio was captured, so a voice turn can start at
 * the user's real end of speech.
 */
export { listenToMicrophone } from './audio/microphone';
export type { MicrophoneListener, MicrophoneOptions, SpeechEvent } from './audio/microphone';
export { Vad } from './audio/vad';
export type { VadEvent, VadOptions } from './audio/vad';
