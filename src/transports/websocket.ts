import type { StreamObserver } from './observer';

/** Close codes a server sends when it ends a session normally (1005: closed without a code). */
const NORMAL_CLOSE = new Set([1000, 1005]);

/**
 * Observe a real WebSocket in place: a listener registered before any of the app's, and `send` /
 * `close` wrapped on the instance. The app keeps the same object, events and errors.
 */
export function observeWebSocket(ws: WebSocket, observer: StreamObserver, now: () => number): void {
  let closedByApp = false;
  const send = ws.send;
  const close = ws.close;
  ws.send = function (this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
    const t0 = now();
    // The app's call runs first and unguarded so its exceptions are exactly the browser's.
    send.call(this, data);
    observer.sent(data, t0);
  };
  ws.close = function (this: WebSocket, code?: number, reason?: string) {
    close.call(this, code, reason);
    closedByApp = true;
  };
  ws.addEventListener('message', (event: MessageEvent) => {
    observer.received(event.data as string | ArrayBuffer | Blob, now());
  });
  ws.addEventListener('close', (event: CloseEvent) => {
    const t = now();
    if (closedByApp) observer.close('abandoned', t, 'closed by the app', event.code);
    else if (event.wasClean && NORMAL_CLOSE.has(event.code)) observer.endOfStream(t);
    else observer.close('dropped', t, event.reason || `close ${event.code}`, event.code);
  });
}
