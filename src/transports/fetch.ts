import { createFramer } from '../adapters/framing';
import type { StreamObserver } from './observer';

/**
 * Return a real Response whose body is read through earshot: each chunk is timed when the app's
 * read receives it (a pull source with no read-ahead), classified, then handed over unchanged.
 * `signal` tells an app abort (abandoned) from a network failure (dropped).
 */
export function observeBody(
  response: Response,
  body: ReadableStream<Uint8Array>,
  observer: StreamObserver,
  signal: AbortSignal | undefined,
  now: () => number,
): Response {
  const reader = body.getReader();
  const framing = observer.adapter.framing ?? 'chunk';
  let chunkTime = 0;
  const framer =
    framing === 'chunk'
      ? undefined
      : createFramer(framing, (data, event) => {
          observer.ctx.event = event;
          observer.received(data, chunkTime);
        });
  const stream = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          observer.close(signal?.aborted ? 'abandoned' : 'dropped', now(), describe(error));
          controller.error(error);
          return;
        }
        chunkTime = now();
        if (result.done) {
          try {
            framer?.end();
          } catch (error) {
            observer.onInternalError(error);
          }
          observer.endOfStream(chunkTime);
          controller.close();
          return;
        }
        const chunk = result.value;
        if (!framer) observer.received(chunk, chunkTime);
        else {
          try {
            observer.connection.current?.byte(chunkTime);
            framer.push(chunk);
          } catch (error) {
            observer.onInternalError(error);
          }
        }
        controller.enqueue(chunk);
      },
      cancel(reason) {
        observer.close('abandoned', now(), 'cancelled by the app');
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  const { status, statusText, headers } = response;
  return dress(new Response(stream, { status, statusText, headers }), response);
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

export function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
