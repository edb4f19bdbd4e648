import type { JitterBufferStats } from './jitter-buffer';
import { createPlayer, type AudioTurn, type Chunk, type Player, type PlayerEventDetail, type PlayerPushMeta } from './player';
import { EVENTS } from './protocol';

/**
 * `<earshot-player>`: the player as an element, its events (`playing`, ...) dispatched on it. Calls
 * go to the player once it has started (a failed start shows in `player`, and `stats()` gives undefined).
 */
export interface PlayerElement extends HTMLElement {
  /** The context to play on: set it before the first call, or one is created then. */
  context: BaseAudioContext | undefined;
  /** The player, started on first use with the element's attributes. */
  readonly player: Promise<Player>;
  push(chunk: Chunk, meta?: PlayerPushMeta): void;
  end(at?: number): void;
  flush(at?: number): void;
  attach(turn: AudioTurn): void;
  stats(): Promise<JitterBufferStats | undefined>;
}

/**
 * Registers the player element under `name` (once). Attributes, read when the player starts:
 * `min-delay` and `max-delay` (ms), and `sample-rate` of the pushed PCM.
 */
export function definePlayerElement(name = 'earshot-player'): void {
  if (typeof customElements === 'undefined' || customElements.get(name)) return;
  class PlayerElementImpl extends HTMLElement {
    context: BaseAudioContext | undefined;
    #player: Promise<Player> | undefined;

    get player(): Promise<Player> {
      const num = (a: string): number | undefined => (this.hasAttribute(a) ? Number(this.getAttribute(a)) : undefined);
      // Async, so that a context that cannot be created rejects `player` rather than throwing.
      return (this.#player ??= (async () => {
        const player = await createPlayer((this.context ??= new AudioContext()), {
          minDelayMs: num('min-delay'),
          maxDelayMs: num('max-delay'),
          sampleRate: num('sample-rate'),
        });
        for (const type of EVENTS) {
          player.addEventListener(type, (e: CustomEvent<PlayerEventDetail>) => this.dispatchEvent(new CustomEvent(type, { detail: e.detail })));
        }
        return player;
      })());
    }
  }
  // Each method waits for the player (started on first use): push copies, as the app may reuse its buffer.
  for (const method of ['push', 'end', 'flush', 'attach', 'stats'] as const) {
    Object.defineProperty(PlayerElementImpl.prototype, method, {
      value(this: PlayerElementImpl, arg?: Chunk, meta?: PlayerPushMeta) {
        const held = method === 'push' ? arg?.slice?.(0) : arg;
        return this.player.then(
          (p) => (p[method] as (a: unknown, b: unknown) => unknown)(held, meta),
          () => undefined,
        );
      },
    });
  }
  customElements.define(name, PlayerElementImpl);
}
