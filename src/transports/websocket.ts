import type { ConnectionRecord } from '../core/recorder';
import type { WireData } from '../core/types';
import { readInAppListeners } from './listeners';

/**
 * Observe a real WebSocket in place: `send` and `close` wrapped on the instance, and each message
 * read in the app's own first listener for it (see `readInAppListeners`). The app keeps the same
 * object, events and errors.
 */
export function observeWebSocket(ws: WebSocket, connection: ConnectionRecord): void {
  const recorder = connection._recorder;
  let closedByApp = false;
  const { send, close } = ws;
  ws.send = function (this: WebSocket, data: WireData) {
    // Classified before it leaves, so that a turn it starts can carry its trace context in it. A
    // send while connecting throws and sends nothing: no turn.
    const traceparent = this.readyState ? connection.sent(data)?.traceparent : undefined;
    const carried = traceparent && recorder._hook('message', data, traceparent);
    // The app's call runs unguarded so its exceptions are exactly the browser's.
    send.call(this, (carried ?? data) as string);
  };
  ws.close = function (this: WebSocket, code?: number, reason?: string) {
    close.call(this, code, reason);
    closedByApp = true;
  };
  const add = readInAppListeners(ws, connection);
  add.call(ws, 'close', (event) => {
    const { code, reason, wasClean } = event as CloseEvent;
    const t = recorder.now();
    if (closedByApp) connection.close('abandoned', t, 'closed by the app', code);
    // A server ends a session normally with 1000, or 1005: closed without a code.
    else if (wasClean && (code === 1000 || code === 1005)) connection.close('clean', t);
    else connection.close('dropped', t, reason || 'close ' + code, code);
  });
}
