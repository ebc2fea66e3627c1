/**
 * `charger-controller journal list` and `journal export --format jsonl|safe-xml`: read the transaction journal
 * (read-only, so they run beside a live controller) and print it for people, every signed record for billing back
 * ends, or the records in the input format of the S.A.F.E. e.V. transparency software.
 */
import { join } from 'node:path';
import { Journal, TRANSACTION_STATES, type TransactionRow, type TransactionState } from '../adapters/journal/journal.js';
import { loadControllerConfig } from '../config/controller.config.js';
import { summarizeOcmf } from '../domain/ocmf-summary.js';
import { safeXml } from '../domain/safe-xml.js';
import { choiceOption, parseOptions } from './args.js';

export const EXPORT_FORMATS = ['jsonl', 'safe-xml'] as const;

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

export const JOURNAL_EXPORT_HELP = `Usage: charger-controller journal export [--format jsonl|safe-xml] [options]

Prints every stored final signed record (OCMF) of the journal, oldest first.

--format jsonl (the default): one JSON object per line, for billing back ends:
{"key", "meter", "evseId", "transactionId", "startedAt", "closedAt", "energyKWh", "durationS", "encoding": "OCMF",
"publicKey", "ocmf"}. "key" is the record's idempotency key, the same the feed carries. "energyKWh" (end minus
begin reading of the record's register) and "durationS" (between the begin and end readings' timestamps) are
read from the signed record; null when it does not carry them.

--format safe-xml: one XML document for the S.A.F.E. e.V. transparency software (Transparenzsoftware), which
checks a record's signature for a customer: <values> with one <value> per transaction, each holding the meter's
public key (<publicKey encoding="hex">) and the record as signed (<signedData format="OCMF" encoding="plain">).
Save it to a file and open it there (charger-controller journal export --format safe-xml > records.xml).

Options:
  --format <format>    jsonl (default) or safe-xml
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
  const format = choiceOption('format', o.format ?? 'jsonl', EXPORT_FORMATS);
  const journal = await openJournal(o);
  if (!journal) return 1;
  try {
    const closed = rows(journal, o.meter, 'closed').filter((row): row is TransactionRow & { ocmf: string } => row.ocmf !== null);
    if (format === 'safe-xml') {
      process.stdout.write(safeXml(closed.map((row) => ({ ocmf: row.ocmf, publicKey: row.publicKey }))));
      if (closed.length === 0) process.stderr.write('charger-controller: the journal has no closed transaction with a signed record (the document has no <value>)\n');
      return 0;
    }
    let out = '';
    for (const row of closed) {
      const summary = summarizeOcmf(row.ocmf);
      out += `${JSON.stringify({
        key: row.recordKey, meter: row.meter, evseId: row.evseId, transactionId: row.transactionId, startedAt: row.createdAt, closedAt: row.closedAt,
        energyKWh: summary?.energyKWh ?? null, durationS: summary?.durationS ?? null,
        encoding: 'OCMF', publicKey: row.publicKey, ocmf: row.ocmf,
      })}\n`;
    }
    process.stdout.write(out);
  } finally {
    journal.close();
  }
  return 0;
}
