/**
 * Formats instants as local wall-clock text with a fixed UTC offset, in the forms the LEM DCBM uses:
 * `/legal` timestamps `2020-12-10T16:39:15+01:00` and OCMF `TM` values `2021-10-06T13:13:56,000+0200 R`
 * (reference §3.6, §3.7). Pure: no time zone database, the offset is given.
 */

const pad = (n: number, width = 2): string => String(Math.trunc(Math.abs(n))).padStart(width, '0');

function wallClock(utcMs: number, offsetMinutes: number): { date: string; time: string; ms: number } {
  const local = new Date(utcMs + offsetMinutes * 60_000);
  return {
    date: `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`,
    time: `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}`,
    ms: local.getUTCMilliseconds(),
  };
}

function offsetText(offsetMinutes: number, separator: string): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  return `${sign}${pad(Math.abs(offsetMinutes) / 60)}${separator}${pad(Math.abs(offsetMinutes) % 60)}`;
}

/** `2020-12-10T16:39:15+01:00` */
export function isoWithOffset(utcMs: number, offsetMinutes: number): string {
  const { date, time } = wallClock(utcMs, offsetMinutes);
  return `${date}T${time}${offsetText(offsetMinutes, ':')}`;
}

/** `2023-09-10T21:10:08.068773`: local time without a zone, as in the livemeasure fixture (microseconds). */
export function naiveLocal(utcMs: number, offsetMinutes: number): string {
  const { date, time, ms } = wallClock(utcMs, offsetMinutes);
  return `${date}T${time}.${pad(ms, 3)}000`;
}

/** OCMF time status suffix: U unknown, I informative, S synchronised, R relative. */
export type OcmfTimeStatus = 'U' | 'I' | 'S' | 'R';

/** `2021-10-06T13:13:56,000+0200 R` */
export function ocmfTime(utcMs: number, offsetMinutes: number, status: OcmfTimeStatus): string {
  const { date, time, ms } = wallClock(utcMs, offsetMinutes);
  return `${date}T${time},${pad(ms, 3)}${offsetText(offsetMinutes, '')} ${status}`;
}

/** Parses `+01:00` / `-09:30` into minutes; undefined when malformed or outside −11:00..+14:00 (reference §4.5). */
export function parseUtcOffset(text: string): number | undefined {
  const match = /^([+-])(\d{2}):(00|15|30|45)$/.exec(text);
  if (!match) return undefined;
  const minutes = (Number(match[2]) * 60 + Number(match[3])) * (match[1] === '-' ? -1 : 1);
  return minutes >= -11 * 60 && minutes <= 14 * 60 ? minutes : undefined;
}
