import { adapters, toAdapter } from '../adapters';
import { createFramer } from '../adapters/framing';
import type { ConnectionRecord } from '../core/recorder';
import type { AdapterLike } from '../core/types';

/** SSE and NDJSON bodies by their content type; any other body is raw chunks (`toAdapter`'s default). */
function bodyAdapter(contentType: string | null): AdapterLike | undefined {
  return /event-stream/.test(contentType!) ? adapters.sse() : /ndjson|jsonl/.test(contentType!) ? adapters.ndjson() : undefined;
}

/**
 * The response arrived (its first byte): an error status fails the turn, and a body is observed.
 * Returns a real Response whose body is read through earshot: each chunk is timed when the app's
 * read receives it (a pull source with no read-ahead), handed over unchanged, then classified.
 * `signal` tells an app abort (abandoned) from a network failure (dropped); see `requestFailed`.
 */
export function observeResponse(
  response: Response,
  connection: ConnectionRecord,
  signal: AbortSignal | null | undefined,
  adapter: AdapterLike | undefined,
): Response {
  const recorder = connection._recorder;
  let chunkTime = recorder.now();
  connection._current?.byte(chunkTime);
  if (!response.ok || !response.body) {
    if (!response.ok) connection._current?.fail('HTTP ' + response.status, chunkTime);
    connection.close('clean', chunkTime);
    return response;
  }
  connection._adapter = toAdapter(adapter ?? bodyAdapter(response.headers.get('content-type')));
  const reader = response.body.getReader();
  const framing = connection._adapter.framing ?? 'chunk';
  const framer =
    framing === 'chunk'
      ? undefined
      : createFramer(
          framing,
          (data, event) => {
            connection._ctx.event = event;
            connection.received(data, chunkTime);
          },
          // The app reads the line; earshot cannot: said, not silently gone. (`RangeError()` is `new RangeError()`.)
          (bytes) => recorder._internalError(RangeError(`earshot: a line of ${bytes} bytes, over the cap, was not measured`)),
        );
  // A chunk (undefined: the end) is recorded once the app's code its read resumed has run: see
  // `Recorder._hold`. Made once, so no closure is made for it per chunk.
  const record = (value: Uint8Array | undefined, at: number) => {
    chunkTime = at;
    if (!value) framer?.end();
    else if (!framer) connection.received(value, at);
    else {
      connection._current?.byte(at);
      framer.push(value);
    }
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      // A plain `then` rather than an async function: one promise hop fewer per chunk.
      pull: (controller) =>
        reader.read().then(
          ({ done, value }) => {
            if (done) controller.close();
            else {
              controller.enqueue(value);
              // Queued after the app's read, which resumes first.
              queueMicrotask(recorder._settle);
            }
            // Stamped last, right before the app's read resumes.
            recorder._hold(record, value);
            // The end is recorded at once, as its connection closes.
            if (done) connection.close('clean');
          },
          (error: unknown) => {
            requestFailed(connection, signal, error);
            controller.error(error);
          },
        ),
      cancel(reason) {
        connection.close('abandoned', recorder.now(), 'cancelled by the app');
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  // The fetched Response serves as the init: its status, statusText and headers are read from it.
  return dress(new Response(stream, response), response);
}

/**
 * The request or its body read failed: a network failure drops the connection, an abort by the app
 * abandons it. An abort by the app's timeout (`AbortSignal.timeout`) fails the turn first: its reply
 * was late, not unwanted.
 */
export function requestFailed(connection: ConnectionRecord, signal: AbortSignal | null | undefined, error: unknown): void {
  const at = connection._recorder.now();
  if (signal?.reason?.name === 'TimeoutError') connection._current?.fail(error, at);
  connection.close(signal?.aborted ? 'abandoned' : 'dropped', at, String(error));
}

/**
 * A constructed Response has no URL of its own and mutable headers: give it the fetched one's, and
 * the same on its clones, so the app sees what it would have seen.
 */
function dress(wrapped: Response, original: Response): Response {
  for (const key of ['url', 'redirected', 'type', 'headers'] as const) {
    Object.defineProperty(wrapped, key, { value: original[key] });
  }
  return Object.defineProperty(wrapped, 'clone', {
    value: () => dress(Response.prototype.clone.call(wrapped), original),
  });
}
