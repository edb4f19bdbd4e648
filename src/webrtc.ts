/**
 * earshot/webrtc: voice-agent peer connections measured from the listener's side. The peer
 * connection's lifecycle (drops), its data channels as connections whose messages the same
 * adapters as WebSocket turn into turns, the inbound audio as the browser's jitter buffer reports
 * it, and each turn's first heard sound on the remote audio (TTFA). See docs/webrtc.md.
 *
 * Built on the monitor's public API only: `monitor.connection()`, `activeTurn()` and the turns'
 * `awaitAudio()` / `audioHeard()`.
 */
export { observePeerConnection, patchPeerConnection } from './webrtc/peer';
export type { PeerObservation, PeerOptions } from './webrtc/peer';
export type { AudioCounter, AudioCounters, AudioStats } from './webrtc/stats';
