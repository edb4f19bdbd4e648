/**
 * earshot/microphone: voice activity on the user's microphone, on an AudioWorklet, and voice turns.
 * Speech start and end come with the `performance.now()` time their audio was captured; `voiceTurns`
 * pairs each end of speech (from here, or mapped from the server's own VAD) with the turn that
 * answers it and reports the voice-to-voice latency with its parts. See docs/voice.md.
 */
export { listenToMicrophone } from './audio/microphone';
export type { MicrophoneListener, MicrophoneOptions, SpeechEvent } from './audio/microphone';
export { Vad } from './audio/vad';
export type { VadEvent, VadOptions } from './audio/vad';
export { combineSinks } from './sinks';
export { voiceTurns } from './voice/turns';
export type { SpeechSource, VoiceTurnParts, VoiceTurnReport, VoiceTurns, VoiceTurnsOptions } from './voice/turns';
