/**
 * earshot/jitter-buffer: the adaptive jitter buffer (a pure class driven by explicit time), the
 * player that runs it on an AudioWorklet, and the `<earshot-player>` element. Usable without the
 * rest of the SDK; with it, a player reports each turn's time to first audio.
 */
export { JitterBuffer } from './audio/jitter-buffer';
export type { JitterBufferOptions, JitterBufferStats, Playout, PushMeta } from './audio/jitter-buffer';
export { createPlayer, Player } from './audio/player';
export type { AudioTurn, Chunk, PlayerEventDetail, PlayerEventMap, PlayerOptions, PlayerPushMeta } from './audio/player';
export { definePlayerElement } from './audio/element';
export type { PlayerElement } from './audio/element';
