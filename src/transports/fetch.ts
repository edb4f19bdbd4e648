import { adapters, toAdapter } from '../adapters';
import { createFramer } from '../adapters/framing';
import type { ConnectionRecord } from '../core/recorder';
import type { AdapterLike } from '../core/types';

/** SSE and NDJSON bodies by their content type; any other body is raw chunks. */
function bodyAdapter(contentType: string | null): AdapterLike {
  return /event-stream/.test(contentType!) ? adapters.sse() : /ndjson|jsonl/.test(contentType!) ? adapters.ndjson() : adapters.raw();
}

/**
 * The response arrived (its first byte): an error status fails the turn, and a body is observed.
 * Returns a real Response whose body is read through earshot: each chunk is timed when the app's
 * read receives it (a pull source with no read-ahead), classified, then handed over unchanged.
 * `signal` tells an app abort (abandoned) from a network failure (dropped).
 */
export function observeResponse(
  response: Response,
  connection: ConnectionRecord,
  signal: AbortSignal | null | undefined,
  adapter: AdapterLike | undefined,
): Response {
  const { now } = connection._recorder;
  let chunkTime = now();
  connection._current?.byte(chunkTime);
  const body = response.body;
  if (!response.ok || !body) {
    if (!response.ok) connection._current?.fail(`HTTP ${response.status}`, chunkTime);
    connection.close('clean', chunkTime);
    return response;
  }
  connection._adapter = toAdapter(adapter ?? bodyAdapter(response.headers.get('content-type')));
  const reader = body.getReader();
  const framing = connection._adapter.framing ?? 'chunk';
  const framer =
    framing === 'chunk'
      ? undefined
      : createFramer(framing, (data, event) => {
          connection._ctx.event = event;
          connection.received(data);
        });
  const stream = new ReadableStream<Uint8Array>(
    {
      // A plain `then` rather than an async function: one promise hop fewer per chunk.
      pull: (controller) =>
        reader.read().then(
          ({ done, value }) => {
            chunkTime = now();
            try {
              if (done) framer?.end();
              else if (!framer) connection.received(value);
              else {
                connection._current?.byte(chunkTime);
                framer.push(value);
              }
            } catch (error) {
              connection._recorder._internalError(error);
            }
            if (!done) controller.enqueue(value);
            else {
              connection.close('clean', chunkTime);
              controller.close();
            }
          },
          (error: unknown) => {
            connection.close(signal?.aborted ? 'abandoned' : 'dropped', now(), String(error));
            controller.error(error);
          },
        ),
      cancel(reason) {
        connection.close('abandoned', now(), 'cancelled by the app');
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  // The fetched Response serves as the init: its status, statusText and headers are read from it.
  return dress(new Response(stream, response), response);
}

/**
 * A constructed Response has no URL of its own and mutable headers: give it the fetched one's, and
 * the same on its clones, so the app sees what it would have seen.
 */
function dress(wrapped: Response, original: Response): Response {
  for (const key of ['url', 'redirected', 'type', 'headers'] as const) {
    Object.defineProperty(wrapped, key, { value: original[key] });
  }
  Object.defineProperty(wrapped, 'clone', {
    value: () => dress(Response.prototype.clone.call(wrapped), original),
  });
  return wrapped;
}
