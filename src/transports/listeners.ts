import type { WireData } from '../core/types';

type Listener = EventListenerOrEventListenerObject | null;

/**
 * Read each message of `target` (a WebSocket or an RTCDataChannel) inside the app's own first
 * listener for it, not in a listener of earshot's: `addEventListener`, `removeEventListener` and
 * `onmessage` are wrapped on the instance; `reader.arriving` runs once per message right before the
 * app's code (to stamp it) and `reader.settle` after each listener of the app's (to record it: see
 * `Recorder._hold`). The reader is an object (the observed connection, for a WebSocket), not
 * functions: a function passed here is inlined by the minifier at its one call as a closure made
 * anew for every message.
 *
 * A listener of its own would cost the page a callback per message (about 2.5 µs of script and
 * 7 µs of main-thread CPU on the project's machine, more than all earshot does with a message), and
 * its stamp would come one callback before the app's. A message the app does not listen to is not
 * read: the app never saw it. The reader must not throw: it runs around the app's code.
 * Returns the unwrapped `addEventListener`, for earshot's other events.
 */
export function readInAppListeners(
  target: EventTarget,
  reader: { arriving(data: WireData): void; settle(): void },
): EventTarget['addEventListener'] {
  // The message last read, so that a second listener of the app's does not read it again.
  let seen: Event | undefined;
  let onmessage: Listener = null;
  const wrappers = new WeakMap<object, EventListener>();
  // One wrapper per listener, so that removing the listener removes it.
  const wrap = (listener: Listener) =>
    listener &&
    (wrappers.get(listener) ??
      wrappers
        .set(listener, function (this: EventTarget, event: Event) {
          if (event !== seen) reader.arriving(((seen = event) as MessageEvent).data as WireData);
          try {
            return typeof listener === 'function' ? listener.call(this, event) : listener.handleEvent(event);
          } finally {
            reader.settle();
          }
        })
        .get(listener)!);
  const { addEventListener: add, removeEventListener: remove } = target;
  target.addEventListener = function (this: EventTarget, type: string, listener: Listener, options?: boolean | AddEventListenerOptions) {
    add.call(this, type, type === 'message' ? wrap(listener) : listener, options);
  };
  target.removeEventListener = function (this: EventTarget, type: string, listener: Listener, options?: boolean | EventListenerOptions) {
    remove.call(this, type, (type === 'message' && listener && wrappers.get(listener)) || listener, options);
  };
  // `onmessage` as the browser keeps it: one listener, added when the handler is set, removed when
  // it is cleared, and in between calling whichever handler is set, in the same place.
  let wrapped: EventListener | null = null;
  const handler = function (this: EventTarget, event: Event) {
    return wrapped!.call(this, event);
  };
  Object.defineProperty(target, 'onmessage', {
    configurable: true,
    get: () => onmessage,
    set(this: EventTarget, listener: unknown) {
      onmessage = typeof listener === 'function' ? (listener as EventListener) : null;
      // `wrapped` is still the previous handler's: added or removed as the handler comes or goes.
      if (!wrapped !== !onmessage) (onmessage ? add : remove).call(this, 'message', handler);
      // Looked up once here, not on every message.
      wrapped = wrap(onmessage);
    },
  });
  return add;
}
