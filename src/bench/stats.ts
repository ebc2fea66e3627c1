/** Statistics for benchmarks: each figure is the median of repeated runs, reported with min and max. */

export const percentile = (values: number[], p: number): number => {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
};

export const median = (values: number[]): number => percentile(values, 50);

export interface Figure {
  id: string;
  label: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  runs: number;
  /** e.g. `< 10`, `>= 200`, `report` */
  goal: string;
  pass: boolean | null;
  note?: string;
  /** The benchmark that measured it (set by run.ts). */
  bench?: string;
}

export function figure(id: string, label: string, unit: string, samples: number[], goal?: { op: '<' | '<=' | '>='; value: number }, note?: string): Figure {
  const med = median(samples);
  const pass = goal === undefined ? null : goal.op === '<' ? med < goal.value : goal.op === '<=' ? med <= goal.value : med >= goal.value;
  return {
    id, label, unit, median: round(med), min: round(Math.min(...samples)), max: round(Math.max(...samples)), runs: samples.length,
    goal: goal ? `${goal.op} ${goal.value}` : 'report', pass, ...(note ? { note } : {}),
  };
}

export const round = (value: number): number => (Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 1000) / 1000);

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU time (user + system) of a process, in ms, from /proc (Linux). */
export async function cpuTimeMs(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** Resident set size of a process, in MB, from /proc (Linux). */
export async function rssMb(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}
