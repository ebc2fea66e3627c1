/**
 * Transactions (reference §4.6, §4.7, §4.10): start with the cleanup of a dangling transaction, a time sync and
 * the POST, retried under the transaction policy; stop by the reference's decision table, where a retry after a
 * successful PUT re-reads only the OCMF (the reference repeats the PUT, §6.2 item 3).
 */
import { buildStartBody } from '../../src/domain/powermeter.js';
import { meterSetup } from './meter.setup.js';

const busy = { actions: { type: 'rejectCommand', params: { kind: 'busy', reason: 'another transaction command is in progress' } } } as const;
const failure = ({ event }: { event: { error: unknown } }) => ({ error: event.error });
const recordError = { type: 'recordCommandError', params: failure } as const;
const reportCommLoss = { type: 'reportCommLoss', params: failure } as const;
const deviceReport = ({ event }: { event: { open: boolean; transactionId: string } }) => ({ open: event.open, transactionId: event.transactionId });

export const transactionState = meterSetup.createStateConfig({
  initial: 'choosing',
  // What connecting read; later the link's refreshes tell this region by DEVICE_TRANSACTION (it alone writes these fields).
  entry: 'adoptDeviceTransaction',
  on: { REFRESH_STARTED: { actions: 'beginDeviceReport' } },
  states: {
    choosing: {
      always: [{ guard: 'needToStop', target: 'running' }, { target: 'idle' }],
    },
    idle: {
      on: {
        START_TRANSACTION: { target: 'starting', actions: 'acceptCommand' },
        STOP_TRANSACTION: { target: 'stopping', actions: 'acceptCommand' },
        DEVICE_TRANSACTION: [
          { guard: { type: 'deviceReportsOpen', params: deviceReport }, target: 'running', actions: { type: 'assignDeviceTransaction', params: deviceReport } },
          { guard: 'deviceReportFresh', actions: { type: 'assignDeviceTransaction', params: deviceReport } },
        ],
      },
    },
    running: {
      on: {
        DEVICE_TRANSACTION: [
          { guard: { type: 'deviceReportsOpen', params: deviceReport }, actions: { type: 'assignDeviceTransaction', params: deviceReport } },
          { guard: 'deviceReportFresh', target: 'idle', actions: [{ type: 'assignDeviceTransaction', params: deviceReport }, 'raiseTransactionEnded'] },
        ],
        STOP_TRANSACTION: { target: 'stopping', actions: 'acceptCommand' },
        // EVerest semantics: a start while one is open first closes the open one (EVerest/EVerest#1035).
        START_TRANSACTION: { target: 'starting', actions: 'acceptCommand' },
      },
    },
    starting: {
      tags: 'busy',
      initial: 'validating',
      on: { START_TRANSACTION: busy, STOP_TRANSACTION: busy },
      states: {
        validating: {
          always: [
            { guard: 'startRequestInvalid', target: '#meter.operational.transaction.idle', actions: ['replyStartInvalid', 'endCommand'] },
            { guard: 'needToStop', target: 'closingDangling' },
            { target: 'syncingTime', actions: 'warnClientIdShortened' },
          ],
        },
        closingDangling: {
          // One PUT, no retries; an unexpected status is ignored, a body or transport error aborts (reference §4.6).
          invoke: {
            src: 'stopOnDevice',
            input: ({ context }) => ({ api: context.api, transactionId: context.currentTxId }),
            onDone: { target: 'readingDanglingOcmf', actions: 'markDanglingClosed' },
            onError: [
              { guard: { type: 'isHttpStatusError', params: failure }, target: 'syncingTime', actions: ['markDanglingClosed', recordError] },
              { target: '#meter.operational.transaction.idle', actions: [recordError, reportCommLoss, 'replyStartFailed', 'endCommand'] },
            ],
          },
        },
        readingDanglingOcmf: {
          // The closed transaction's signed record is kept, not dropped (design: nothing signed is lost).
          invoke: {
            src: 'readOcmf',
            input: ({ context }) => ({ api: context.api, transactionId: context.currentTxId }),
            onDone: { target: 'syncingTime', actions: { type: 'emitDanglingClosed', params: ({ event }) => ({ ocmf: event.output }) } },
            onError: { target: 'syncingTime', actions: [recordError, { type: 'warnDanglingOcmfMissing', params: failure }] },
          },
        },
        syncingTime: {
          entry: 'requestSync',
          on: {
            TIME_SYNCED: 'posting',
            TIME_SYNC_FAILED: { target: 'attemptFailed', actions: [{ type: 'recordCommandError', params: ({ event }) => ({ error: event.error }) }, 'countCommandAttempt'] },
          },
        },
        posting: {
          invoke: {
            src: 'startOnDevice',
            input: ({ context }) => {
              const cmd = context.command;
              if (cmd?.kind !== 'start') throw new Error('posting without a start command');
              return { api: context.api, transactionId: cmd.req.transaction_id, body: buildStartBody(cmd.req, context.config.startBody, context.api).body };
            },
            onDone: { target: '#meter.operational.transaction.running', actions: [{ type: 'replyStarted', params: ({ event }) => event.output }, 'endCommand'] },
            onError: [
              // 409: a transaction is running. It may be this one, when an earlier POST reached the meter and its
              // answer was lost: the meter's status and current record tell, and then the start succeeded.
              { guard: { type: 'isConflictStatusError', params: failure }, target: 'confirming', actions: [recordError, 'countCommandAttempt'] },
              // Any other 4xx is a refusal: the meter did not start it.
              { guard: { type: 'isClientStatusError', params: failure }, target: 'attemptFailed', actions: [recordError, 'countCommandAttempt'] },
              // No answer, or a 5xx: the POST may have landed.
              { target: 'attemptFailed', actions: [recordError, reportCommLoss, 'countCommandAttempt', 'markStartPostUncertain'] },
            ],
          },
        },
        // Did an earlier POST of this start land? Status (a transaction open?) and the current record (its id) tell.
        confirming: {
          initial: 'readingStatus',
          states: {
            readingStatus: {
              invoke: {
                src: 'readStatus',
                onDone: [
                  { guard: { type: 'statusShowsTransactionOpen', params: ({ event }) => event.output }, target: 'readingRecord' },
                  // Nothing runs: the earlier POST did not land; post again (within the attempts).
                  { guard: 'commandRetriesLeft', target: '#meter.operational.transaction.starting.syncingTime' },
                  { target: '#meter.operational.transaction.idle', actions: ['replyStartFailed', 'endCommand', 'raiseTransactionEnded'] },
                ],
                onError: { target: '#meter.operational.transaction.starting.attemptFailed', actions: [recordError, 'countCommandAttempt'] },
              },
            },
            readingRecord: {
              invoke: {
                src: 'readLegal',
                input: ({ context }) => ({ api: context.api }),
                onDone: [
                  {
                    guard: { type: 'currentRecordIsThisStart', params: ({ event }) => event.output },
                    target: '#meter.operational.transaction.running',
                    actions: [{ type: 'replyStarted', params: ({ event }) => ({ startedAtMs: event.output.startedAtMs }) }, 'endCommand'],
                  },
                  { target: '#meter.operational.transaction.starting.attemptFailed', actions: [{ type: 'recordOtherTransactionRunning', params: ({ event }) => event.output }, 'countCommandAttempt'] },
                ],
                onError: { target: '#meter.operational.transaction.starting.attemptFailed', actions: [recordError, 'countCommandAttempt'] },
              },
            },
          },
        },
        attemptFailed: {
          always: [
            { guard: 'commandRetriesLeft', target: 'retryWaiting' },
            { target: '#meter.operational.transaction.idle', actions: ['replyStartFailed', 'endCommand', 'raiseTransactionEnded'] },
          ],
        },
        retryWaiting: {
          // After a POST that may have landed, the meter is asked first (a time sync would be refused while it runs).
          after: { commandRetryDelay: [{ guard: 'startPostUncertain', target: 'confirming' }, { target: 'syncingTime' }] },
        },
      },
    },
    stopping: {
      tags: 'busy',
      initial: 'deciding',
      on: { START_TRANSACTION: busy, STOP_TRANSACTION: busy },
      states: {
        deciding: {
          always: [
            { guard: 'stopNothingOpen', target: 'finished', actions: 'replyStopNothingOpen' },
            { guard: 'stopRecovering', target: 'readingOcmf', actions: 'stopRecovering' },
            { guard: 'stopAlreadyClosed', target: 'readingOcmf', actions: 'stopAlreadyClosed' },
            { guard: 'stopCurrent', target: 'putting', actions: 'stopCurrent' },
            { guard: 'stopDangling', target: 'putting', actions: 'stopCurrent' },
            { target: 'putting', actions: 'stopOther' },
          ],
        },
        putting: {
          invoke: {
            src: 'stopOnDevice',
            input: ({ context }) => ({ api: context.api, transactionId: context.stop?.transactionId ?? '' }),
            onDone: { target: 'readingOcmf', actions: 'markPutDone' },
            onError: [
              // Refused (e.g. "not running" after the meter closed it at a power loss): the record decides.
              { guard: { type: 'isClientStatusError', params: failure }, target: 'readingOcmf', actions: [recordError, 'markPutRefused'] },
              { target: 'attemptFailed', actions: [recordError, reportCommLoss, 'countCommandAttempt'] },
            ],
          },
        },
        readingOcmf: {
          invoke: {
            src: 'readOcmf',
            input: ({ context }) => ({ api: context.api, transactionId: context.stop?.transactionId ?? '' }),
            onDone: [
              { guard: { type: 'recordNotEnded', params: ({ event }) => ({ ocmf: event.output }) }, target: 'attemptFailed', actions: ['recordNotEnded', 'countCommandAttempt'] },
              { target: 'finished', actions: { type: 'replyStopped', params: ({ event }) => ({ ocmf: event.output }) } },
            ],
            onError: { target: 'attemptFailed', actions: [recordError, reportCommLoss, 'countCommandAttempt'] },
          },
        },
        attemptFailed: {
          always: [
            { guard: 'commandRetriesLeft', target: 'retryWaiting' },
            // Transport failure with an intermediate record of this transaction: answer with it, marked (EVerest/EVerest#1215).
            { guard: 'transportFailureWithCache', target: 'finished', actions: 'replyStoppedFromCache' },
            { target: 'finished', actions: 'replyStopFailed' },
          ],
        },
        retryWaiting: {
          after: { commandRetryDelay: [{ guard: 'stopPutDone', target: 'readingOcmf' }, { target: 'putting' }] },
        },
        finished: {
          entry: 'endCommand',
          always: [
            { guard: 'needToStop', target: '#meter.operational.transaction.running' },
            { target: '#meter.operational.transaction.idle', actions: 'raiseTransactionEnded' },
          ],
        },
      },
    },
  },
});
