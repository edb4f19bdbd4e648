import type { Sink } from './monitor';

/** Every hook a sink may have. */
const HOOKS = ['attach', 'start', 'turn', 'connection', 'headers', 'websocket', 'message', 'response'] as const;

type Hook = (...args: unknown[]) => unknown;

/**
 * Several sinks as the one a monitor takes, e.g. `combineSinks(otel({...}), voiceTurns())`. Each hook
 * calls the sinks' hooks in the order given, each guarded: one that throws does not keep the others
 * from running. A hook that answers (a traceparent, headers, a WebSocket URL and protocols, a
 * message) answers with the first sink's defined answer, so the first tracing sink carries the trace
 * context. Once all have run, the first failure is rethrown for the monitor to count among its own
 * errors (never thrown into the app), unless a sink answered: the answer is kept, so a failing sink
 * does not cost the others their trace context. Undefined entries are skipped (`cond && sink`).
 */
export function combineSinks(...sinks: Array<Sink | undefined>): Sink {
  const combined: Record<string, Hook> = {};
  for (const name of HOOKS) {
    combined[name] = (...args) => {
      let answer: unknown;
      // Boxed, so that a sink throwing `undefined` still counts as a failure.
      let failure: [unknown] | undefined;
      for (const sink of sinks) {
        try {
          const value = (sink?.[name] as Hook | undefined)?.apply(sink, args);
          answer ??= value;
        } catch (error) {
          failure ??= [error];
        }
      }
      if (failure && answer === undefined) throw failure[0];
      return answer;
    };
  }
  return combined as Sink;
}
