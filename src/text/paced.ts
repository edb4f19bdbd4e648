import { TextSmoother, type TextSmootherOptions, type TextSmootherStats } from './smoother';

export interface SmoothTextOptions extends TextSmootherOptions {
  /**
   * Called once per turn with the time (performance.now() ms) its first text was handed to
   * `onText`: connect it to the monitor turn (`turn.displayed(at)`) for its time to first display.
   */
  onFirstDisplay?: (atMs: number) => void;
  /**
   * Called when an ended turn's text has been handed over in full, with the turn's stats (not for a
   * turn whose successor's first push came before its last word was out).
   */
  onDisplayEnd?: (stats: TextSmootherStats) => void;
}

export interface SmoothText {
  /** Text that arrived now (a token, a transcript word, any part of one). */
  push(delta: string): void;
  /** The turn's text is complete: what is held is released at pace, within the bound. */
  end(): void;
  /** Hands everything queued to `onText` now, synchronously (e.g. before the app reads its text). */
  flush(): void;
  /** Stats of the turn being displayed. */
  stats(): TextSmootherStats;
  /** When the current turn's first text was handed to `onText` (performance.now() ms). */
  readonly firstDisplayedAt: number | undefined;
  /** Errors inside earshot that were caught (never thrown into the app). */
  readonly internalErrors: number;
}

/**
 * Paces streamed text to `onText` with a TextSmoother. Text is handed over when it is due, as
 * `onText(text)` with the text to append.
 *
 * Releases are woken by setTimeout at the times the smoother schedules, and text due at once by a
 * microtask (it runs before the next paint, so a word released on arrival costs no frame).
 * requestAnimationFrame would poll every frame even while no word is due, and it stops in a hidden
 * tab: an app that accumulates its text in `onText` would not get the end of the reply until the
 * user came back. Timers keep delivering there (throttled), and releases that land in one frame
 * paint together, which is all a frame loop would have done. Times reported are those at which
 * the text was handed to `onText`; the browser paints it at its next frame.
 *
 * Errors thrown by `onText` and the other callbacks are the app's: they surface from the timer as
 * they would from the app's own timers (from `flush()`, to its caller), and pacing goes on.
 */
export function smoothText(onText: (text: string) => void, options: SmoothTextOptions = {}): SmoothText {
  const smoother = new TextSmoother(options);
  const { onFirstDisplay, onDisplayEnd } = options;
  let errors = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** When the pending wake-up is due; Infinity when none is pending. */
  let wakeAt = Infinity;
  /** A turn was pushed to and has not been reported as displayed in full. */
  let open = false;
  let ended = false;

  const guard = (work: () => void): void => {
    try {
      work();
    } catch {
      errors++;
    }
  };

  const schedule = (): void => {
    const next = smoother.nextAt();
    if (next >= wakeAt) return;
    clearTimeout(timer);
    wakeAt = next;
    const wait = next - performance.now();
    if (wait > 0) timer = setTimeout(tick, wait);
    else queueMicrotask(tick);
  };

  /** Releases what is due at `now` (all of it with `all`), then hands it to the app's callbacks. */
  const release = (all: boolean): void => {
    let text = '';
    let first: number | undefined;
    let done: TextSmootherStats | undefined;
    guard(() => {
      const now = performance.now();
      const before = smoother.firstReleaseMs;
      text = all ? smoother.flush(now) : smoother.poll(now);
      const after = smoother.firstReleaseMs;
      if (after === after && after !== before) first = after;
      if (ended && smoother.nextAt() === Infinity) {
        open = ended = false;
        done = smoother.stats();
      }
      schedule();
    });
    // The app's callbacks run last, each even if the one before threw: their errors are theirs.
    try {
      if (text) onText(text);
    } finally {
      try {
        if (first !== undefined) onFirstDisplay?.(first);
      } finally {
        if (done) onDisplayEnd?.(done);
      }
    }
  };

  function tick(): void {
    clearTimeout(timer);
    wakeAt = Infinity;
    release(false);
  }

  return {
    push(delta) {
      guard(() => {
        smoother.push(delta, performance.now());
        if (typeof delta === 'string' && delta) {
          open = true;
          ended = false;
        }
        schedule();
      });
    },
    end() {
      guard(() => {
        smoother.end(performance.now());
        ended = open;
        // Wake even with nothing left to release, to report the turn displayed in full.
        if (ended) {
          clearTimeout(timer);
          wakeAt = -Infinity;
          queueMicrotask(tick);
        }
      });
    },
    flush() {
      release(true);
    },
    stats: () => smoother.stats(),
    get firstDisplayedAt() {
      const at = smoother.firstReleaseMs;
      return at === at ? at : undefined;
    },
    get internalErrors() {
      return errors;
    },
  };
}
