/**
 * Stops that a shutdown could not finish, kept in `<state_dir>/pending-stops.json` so the next start finishes them
 * (stop_transaction with the same id reads the record the meter keeps; reference §4.7 first row). Written
 * atomically (temp file + rename). The durable SQLite journal of every transaction step replaces this later.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as v from 'valibot';

const PendingSchema = v.array(v.strictObject({ meter: v.string(), transactionId: v.string(), since: v.string() }));
export type PendingStop = v.InferOutput<typeof PendingSchema>[number];

export class PendingStops {
  readonly #file: string;

  constructor(readonly dir: string) {
    this.#file = join(dir, 'pending-stops.json');
  }

  async read(): Promise<PendingStop[]> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch {
      return [];
    }
    const parsed = v.safeParse(PendingSchema, JSON.parse(text));
    if (!parsed.success) throw new Error(`${this.#file} is damaged; fix or remove it (it lists stops to finish)`);
    return parsed.output;
  }

  async write(entries: PendingStop[]): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temp = `${this.#file}.tmp`;
    await writeFile(temp, `${JSON.stringify(entries, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, this.#file);
  }

  async add(entry: PendingStop): Promise<void> {
    const entries = await this.read();
    if (!entries.some((e) => e.meter === entry.meter && e.transactionId === entry.transactionId)) await this.write([...entries, entry]);
  }

  async remove(meter: string, transactionId: string): Promise<void> {
    const entries = await this.read();
    const rest = entries.filter((e) => !(e.meter === meter && e.transactionId === transactionId));
    if (rest.length !== entries.length) await this.write(rest);
  }
}
