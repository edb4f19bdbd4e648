/**
 * Turn deadlines: a turn whose reply stops coming fails as an error instead of staying open.
 *
 * `turnDeadline(monitor, ms)` is the monitor with deadlines on the turns it hands out: manual turns
 * (`turn()`) and the turns of connections the app or an earshot module reports itself
 * (`connection()`, e.g. `earshot/webrtc`'s data channels). Such a turn fails with
 * `deadline: no reply for <ms> ms` once `ms` pass without progress: from its start to the first
 * byte or message of its reply, and between one and the next. The turns of `websocket()` and
 * `fetch()` are the monitor's own, out of a deadline's reach: for those the app bounds the wait
 * itself (`AbortSignal.timeout`, `ws.close()`), which ends the turn as abandoned.
 */
import type { ManualTurn, Monitor, ObservedConnection } from './monitor';

/** One turn's deadline. Progress only stamps a time: the timer is re-armed when it fires, never per message. */
class Deadline {
  #last = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly turn: ManualTurn,
    readonly ms: number,
  ) {
    this.#arm(ms);
  }

  progress(): void {
    this.#last = performance.now();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => {
      const idle = performance.now() - this.#last;
      // A turn that has ended ignores the call: only its first end counts.
      if (idle >= this.ms) this.turn.fail(`deadline: no reply for ${this.ms} ms`);
      else this.#arm(this.ms - idle);
    }, delay);
  }
}

/** A manual turn whose deadline runs from its start. */
function watchedTurn(turn: ManualTurn, ms: number): ManualTurn {
  let deadline: Deadline | undefined;
  const arm = () => (deadline ??= new Deadline(turn, ms));
  const progress = () => arm().progress();
  const stop = () => {
    // A turn ended before it started starts now and ends at once: no deadline for it.
    deadline?.stop();
    deadline = undefined;
  };
  const watched: ManualTurn = {
    get id() {
      return turn.id;
    },
    get traceparent() {
      return turn.traceparent;
    },
    start() {
      turn.start();
      arm();
      return watched;
    },
    byte() {
      turn.byte();
      progress();
    },
    content(tokens, audioMs) {
      turn.content(tokens, audioMs);
      progress();
    },
    usage: (tokens) => turn.usage(tokens),
    audioHeard: (at) => turn.audioHeard(at),
    displayed: (at) => turn.displayed(at),
    quality: (good, reason, category) => turn.quality(good, reason, category),
    awaitAudio: () => turn.awaitAudio(),
    end() {
      stop();
      turn.end();
    },
    fail(error) {
      stop();
      turn.fail(error);
    },
    abandon(reason) {
      stop();
      turn.abandon(reason);
    },
  };
  return watched;
}

/**
 * The monitor, with a deadline of `ms` on the turns of `turn()` and `connection()` (see the module
 * comment). Throws a RangeError when `ms` is not a number > 0.
 */
export function turnDeadline(monitor: Monitor, ms: number): Monitor {
  if (!(typeof ms === 'number' && ms > 0 && ms < Infinity)) {
    throw new RangeError(`earshot: turnDeadline ms must be a number > 0 (got ${String(ms)})`);
  }
  const watched: Monitor = Object.create(monitor, {
    turn: { value: () => watchedTurn(monitor.turn(), ms) },
    connection: {
      value(...args: Parameters<Monitor['connection']>): ObservedConnection {
        const c = monitor.connection(...args);
        // The turn in progress: any message received is progress for it.
        let current: Deadline | undefined;
        return {
          id: c.id,
          get traceparent() {
            return c.traceparent;
          },
          sent(data, at) {
            const turn = c.sent(data, at);
            if (turn) {
              current?.stop();
              current = new Deadline(turn, ms);
            }
            return turn;
          },
          received(data, at) {
            current?.progress();
            c.received(data, at);
          },
          close(outcome, at, reason, code) {
            current?.stop();
            current = undefined;
            c.close(outcome, at, reason, code);
          },
        };
      },
    },
  });
  return watched;
}
