/**
 * List query parameters as envoy reads them (reference §3.7, envoy api/request.py and api/query.py): `s` start
 * (default 0, < 0 → 400), `a` after (only items with changedTime ≥ a; inclusive is inferred), `l` limit (default
 * the configured page size, 1 on envoy; > 500 clamped to 500; < 0 → 400). Only the first value of a repeated
 * parameter counts (URLSearchParams.get gives exactly that).
 */
import { badRequest } from './errors.js';
import { MAX_LIMIT } from './options.js';

export interface Paging {
  start: number;
  after: number;
  limit: number;
}

function integerParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^[+-]?\d{1,15}$/.test(raw)) throw badRequest(`Query parameter ${name} must be an integer, got "${raw}".`);
  const value = Number(raw);
  if (value < 0) throw badRequest(`Query parameter ${name} must not be negative.`);
  return value;
}

export function readPaging(query: URLSearchParams, defaultLimit: number): Paging {
  return {
    start: integerParam(query, 's', 0),
    after: integerParam(query, 'a', 0),
    limit: Math.min(integerParam(query, 'l', defaultLimit), MAX_LIMIT),
  };
}

export const page = <T>(items: T[], paging: Paging): T[] => items.slice(paging.start, paging.start + paging.limit);

/** The indexes of the page of a list of `total` items (those `page` would keep), without building the items. */
export function pageRange(total: number, paging: Paging): number[] {
  const end = Math.min(total, paging.start + paging.limit);
  const indexes: number[] = [];
  for (let index = paging.start; index < end; index += 1) indexes.push(index);
  return indexes;
}
