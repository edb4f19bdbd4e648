import type { ConnectionRecord } from '../core/recorder';

/**
 * Observe a real WebSocket in place: a listener registered before any of the app's, and `send` /
 * `close` wrapped on the instance. The app keeps the same object, events and errors.
 */
export function observeWebSocket(ws: WebSocket, connection: ConnectionRecord): void {
  const { now } = connection._recorder;
  let closedByApp = false;
  const send = ws.send;
  const close = ws.close;
  ws.send = function (this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
    const t0 = now();
    // The app's call runs first and unguarded so its exceptions are exactly the browser's.
    send.call(this, data);
    connection._sent(data, t0);
  };
  ws.close = function (this: WebSocket, code?: number, reason?: string) {
    close.call(this, code, reason);
    closedByApp = true;
  };
  ws.addEventListener('message', (event: MessageEvent) => {
    connection._received(event.data as string | ArrayBuffer | Blob, now());
  });
  ws.addEventListener('close', ({ code, reason, wasClean }: CloseEvent) => {
    const t = now();
    if (closedByApp) connection.close('abandoned', t, 'closed by the app', code);
    // A server ends a session normally with 1000, or 1005: closed without a code.
    else if (wasClean && (code === 1000 || code === 1005)) connection.close('clean', t);
    else connection.close('dropped', t, reason || `close ${code}`, code);
  });
}
