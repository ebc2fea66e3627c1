/**
 * What the charts share about the actors they invoke: the typed placeholder of an actor that does I/O (so `onDone`
 * and `input` are checked without casts, and a forgotten `.provide()` fails clearly), and the readers of a done or
 * error event's output and message.
 */
import { fromPromise } from 'xstate';

export function notProvided<TOutput, TInput>(name: string) {
  return fromPromise<TOutput, TInput>(async () => {
    throw new Error(`actor "${name}" was not provided; inject it with machine.provide()`);
  });
}

/** The output of an `xstate.done.actor.*` event (the transition that reads it is the invoke's `onDone`). */
export const outputOf = <T>(event: unknown): T => (event as { output: T }).output;

/** The message of an `xstate.error.actor.*` event's error, whatever was thrown. */
export const errorText = (event: unknown): string => {
  const error = (event as { error?: { message?: unknown } }).error;
  return typeof error?.message === 'string' ? error.message : String(error);
};
