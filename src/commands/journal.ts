/**
 * `charger-controller journal list` and `journal export --format jsonl`: read the transaction journal (read-only,
 * so they run beside a live controller) and print it for people, or every signed record for billing back ends.
 */
import { join } from 'node:path';
import { Journal, TRANSACTION_STATES, type TransactionRow, type TransactionState } from '../adapters/journal/journal.js';
import { loadControllerConfig } from '../config/controller.config.js';
import { choiceOption, parseOptions } from './args.js';

const WHERE = `  --config <file>      take state_dir from this controller config
  --state-dir <dir>    the controller's state directory (default .charger-controller)
  --meter <name>       only this meter's transactions`;

export const JOURNAL_LIST_HELP = `Usage: charger-controller journal list [options]

Lists every transaction in the journal (<state_dir>/journal.sqlite), oldest first: when it began, meter,
transaction id, state (${TRANSACTION_STATES.join(', ')}), whether its signed record is stored and published.

Options:
${WHERE}
  --state <state>      only transactions in this state
  --steps              also print every journaled step of each transaction
  -h, --help           show this help
`;

export const JOURNAL_EXPORT_HELP = `Usage: charger-controller journal export --format jsonl [options]

Prints every stored signed record (OCMF) as one JSON object per line, for billing back ends:
{"key", "meter", "evseId", "transactionId", "startedAt", "closedAt", "encoding": "OCMF", "publicKey", "ocmf"}.
"key" is the record's idempotency key, the same the feed carries.

Options:
  --format jsonl       the output format (jsonl is the one there is)
${WHERE}
  -h, --help           show this help
`;

const sharedOptions = { config: { type: 'string' }, 'state-dir': { type: 'string' }, meter: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** The journal, or undefined after printing why it cannot be opened. */
async function openJournal(o: { config?: string | undefined; 'state-dir'?: string | undefined }): Promise<Journal | undefined> {
  const stateDir = o['state-dir'] ?? (o.config ? (await loadControllerConfig(o.config)).stateDir : '.charger-controller');
  try {
    return Journal.open(join(stateDir, 'journal.sqlite'), { readOnly: true });
  } catch (error) {
    process.stderr.write(`charger-controller: ${(error as Error).message}\n`);
    return undefined;
  }
}

function rows(journal: Journal, meter: string | undefined, state?: TransactionState): TransactionRow[] {
  return journal.transactions({ ...(meter !== undefined ? { meter } : {}), ...(state ? { states: [state] } : {}) });
}

export async function journalList(args: string[]): Promise<number> {
  const o = parseOptions(args, { ...sharedOptions, state: { type: 'string' }, steps: { type: 'boolean' } });
  if (o.help) {
    process.stdout.write(JOURNAL_LIST_HELP);
    return 0;
  }
  const state = choiceOption('state', o.state, TRANSACTION_STATES);
  const journal = await openJournal(o);
  if (!journal) return 1;
  try {
    const list = rows(journal, o.meter, state);
    const lines = [['started', 'meter', 'transaction', 'state', 'record', 'published'].join('\t')];
    for (const row of list) {
      lines.push([row.createdAt, row.meter, row.transactionId, row.state, row.ocmf ? 'stored' : row.intermediateOcmf ? 'intermediate' : '-', row.publishedAt ?? '-'].join('\t'));
      if (o.steps) for (const step of journal.steps(row.meter, row.transactionId)) lines.push(`\t${step.at}\t${step.step}${step.detail ? `\t${JSON.stringify(step.detail)}` : ''}`);
    }
    const registrations = journal.registrations();
    process.stdout.write(`${lines.join('\n')}\n${list.length} transaction(s)${registrations.length ? `; registered: ${registrations.map((r) => `${r.site} → ${r.endDevice} (${r.registeredAt})`).join(', ')}` : ''}\n`);
  } finally {
    journal.close();
  }
  return 0;
}

export async function journalExport(args: string[]): Promise<number> {
  const o = parseOptions(args, { ...sharedOptions, format: { type: 'string' } });
  if (o.help) {
    process.stdout.write(JOURNAL_EXPORT_HELP);
    return 0;
  }
  choiceOption('format', o.format ?? 'jsonl', ['jsonl'] as const);
  const journal = await openJournal(o);
  if (!journal) return 1;
  try {
    let out = '';
    for (const row of rows(journal, o.meter, 'closed')) {
      out += `${JSON.stringify({
        key: row.recordKey, meter: row.meter, evseId: row.evseId, transactionId: row.transactionId, startedAt: row.createdAt, closedAt: row.closedAt,
        encoding: 'OCMF', publicKey: row.publicKey, ocmf: row.ocmf,
      })}\n`;
    }
    process.stdout.write(out);
  } finally {
    journal.close();
  }
  return 0;
}
