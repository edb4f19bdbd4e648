/**
 * SLOs for common streaming use cases, from published targets. Each is a starting point: override
 * any field by spreading it into `defineSlo` (`defineSlo({ ...voiceAgent, name: 'support-line',
 * ttfaMs: 400 })`). Bounds are inclusive, as every SLO criterion in earshot. The objective turns the
 * published per-metric targets into one share of valid turns that must meet all of them; 99% matches
 * the p99 the sources quote, and is at least as strict as each p99 on its own.
 */
import { defineSlo, DAY_MS } from './definition';

/**
 * Real-time voice agent: the strictest targets. 300 ms is the threshold past which users perceive a
 * delay in conversation; TTFA (when the first sample of the reply is heard, from the end of the
 * user's speech) is that delay as the user experiences it: voice-to-voice latency, TTFT plus the
 * audio path. RTF < 0.5 keeps 50% headroom over real time; fewer than 0.1% of connections dropped.
 * Sources: AssemblyAI, "The 300ms Rule: Why Latency Makes or Breaks Voice AI" (2025); "SLOs for
 * Streaming ML Systems", SLOs for Different Use Cases (voice agents: TTFT ≤ 300 ms, RTF < 0.5,
 * connection drop rate < 0.1%).
 */
export const voiceAgent = defineSlo({
  name: 'voice-agent',
  description: 'Voice agent: first text within 300 ms, reply heard within 300 ms, RTF 0.5',
  ttftMs: 300,
  ttfaMs: 300,
  rtf: 0.5,
  dropRate: 0.001,
  objective: 0.99,
  windowMs: 30 * DAY_MS,
});

/**
 * Live captioning: real time, with more tolerance than a voice agent. The first partial transcript
 * within 500 ms (TTFT: a partial transcript is a content chunk), RTF < 0.8 (the alerting threshold
 * for approaching real time; judged only on turns that report the audio their transcripts cover, see
 * docs/slo.md). Source: "SLOs for Streaming ML Systems", SLOs for Different Use Cases (live
 * captioning: TTFT ≤ 500 ms, RTF < 0.8).
 */
export const liveCaptioning = defineSlo({
  name: 'live-captioning',
  description: 'Live captioning: first partial transcript within 500 ms, RTF 0.8',
  ttftMs: 500,
  rtf: 0.8,
  objective: 0.99,
  windowMs: 30 * DAY_MS,
});

/**
 * Interactive chat: the first token within 100 ms ("feels instantaneous", the RAIL response
 * budget), tokens every 15 ms or less (about 67 tokens a second), and the whole reply within 5 s at
 * p99. Sources: Google, "RAIL Performance Model"; "SLOs for Streaming ML Systems", LLM Inference
 * Targets (TTFT ≤ 100 ms, TPOT < 15 ms, p99 end-to-end < 5 s).
 */
export const interactiveChat = defineSlo({
  name: 'interactive-chat',
  description: 'Interactive chat: first token within 100 ms, TPOT 15 ms, reply within 5 s',
  ttftMs: 100,
  tpotMs: 15,
  e2eMs: 5000,
  objective: 0.99,
  windowMs: 30 * DAY_MS,
});

/**
 * Batch transcription: no real-time requirement; the transcript within 5 times the audio's duration
 * at p99, i.e. an RTF of 5 (the turn reports the audio its transcript covers as `audioMs`).
 * Source: "SLOs for Streaming ML Systems", SLOs for Different Use Cases (batch transcription: p99
 * end-to-end < 5x audio duration).
 */
export const batchTranscription = defineSlo({
  name: 'batch-transcription',
  description: 'Batch transcription: transcript within 5x the audio duration',
  rtf: 5,
  objective: 0.99,
  windowMs: 30 * DAY_MS,
});

/** Every preset, by name. */
export const presets = { voiceAgent, liveCaptioning, interactiveChat, batchTranscription } as const;
