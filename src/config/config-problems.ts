/**
 * Config problems in the operator's words. valibot's `strictObject` stops at the first unknown key of an object and
 * words it "Expected never"; here every unknown key of every object is reported, with the key that was probably
 * meant (edit distance), and the other issues are worded as "must be ..." with what was found. A problem is a path
 * into the file (`meters.1.port`) and a message; `formatProblem` joins them as `meters.1.port: must be ...`.
 */
import * as v from 'valibot';

export interface Problem {
  path: readonly (string | number)[];
  message: string;
}

export const formatProblem = (p: Problem): string => (p.path.length ? `${p.path.join('.')}: ${p.message}` : p.message);

export const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Optimal-string-alignment distance (insertions, deletions, substitutions, adjacent swaps), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  const rows: number[][] = Array.from({ length: s.length + 1 }, (_, i) => [i, ...Array<number>(t.length).fill(0)]);
  for (let j = 1; j <= t.length; j += 1) rows[0]![j] = j;
  for (let i = 1; i <= s.length; i += 1) {
    for (let j = 1; j <= t.length; j += 1) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let best = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = best;
    }
  }
  return rows[s.length]![t.length]!;
}

/**
 * The known word closest to `word`, when it is close enough to be a typo: a third of its letters, at least 1, at most
 * 3; or a known key with letters added or cut off at the end; words under 3 letters only by case ("v3" is not a
 * typo of "v1").
 */
export function closest(word: string, known: readonly string[]): string | undefined {
  if (word.length < 3) return known.find((k) => k.toLowerCase() === word.toLowerCase());
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: { key: string; distance: number } | undefined;
  for (const key of known) {
    const distance = editDistance(word, key);
    if (distance <= limit && (!best || distance < best.distance)) best = { key, distance };
  }
  if (best) return best.key;
  // A known key with something added or cut off (`rtgMaxWatts` for `rtgMaxW`, `timeout` for `timeoutMs`).
  const lower = word.toLowerCase();
  const related = known.filter((k) => k.length >= 4 && (lower.startsWith(k.toLowerCase()) || k.toLowerCase().startsWith(lower)));
  return related.sort((a, b) => Math.abs(a.length - word.length) - Math.abs(b.length - word.length))[0];
}

/** `unknown key; did you mean `feed`?`, or the list of keys the object takes when it is short. */
export function unknownKeyMessage(key: string, known: readonly string[], hint?: string): string {
  const guess = closest(key, known);
  if (guess) return `unknown key; did you mean \`${guess}\`?`;
  if (hint) return `unknown key; ${hint}`;
  return known.length <= 10 ? `unknown key; this section takes ${known.map((k) => `\`${k}\``).join(', ')}` : 'unknown key';
}

type AnySchema = v.GenericSchema & { type: string; wrapped?: AnySchema; entries?: Record<string, AnySchema>; item?: AnySchema; options?: AnySchema[] };

const WRAPPERS = new Set(['optional', 'nullable', 'nullish', 'exact_optional', 'undefinedable', 'non_optional', 'non_nullable', 'non_nullish']);

function unwrap(schema: AnySchema): AnySchema {
  let current = schema;
  while (WRAPPERS.has(current.type) && current.wrapped) current = current.wrapped;
  return current;
}

/** Every key of every strict object in `input` that `schema` does not declare (valibot reports only the first). */
export function unknownKeys(schema: v.GenericSchema, input: unknown, path: readonly (string | number)[] = []): Problem[] {
  const s = unwrap(schema as AnySchema);
  const out: Problem[] = [];
  if ((s.type === 'strict_object' || s.type === 'object' || s.type === 'loose_object') && s.entries && isRecord(input)) {
    const known = Object.keys(s.entries);
    for (const [key, value] of Object.entries(input)) {
      const entry = Object.hasOwn(s.entries, key) ? s.entries[key] : undefined;
      if (entry) out.push(...unknownKeys(entry, value, [...path, key]));
      else if (s.type === 'strict_object') out.push({ path: [...path, key], message: unknownKeyMessage(key, known) });
    }
  } else if (s.type === 'array' && s.item && Array.isArray(input)) {
    input.forEach((item, index) => out.push(...unknownKeys(s.item!, item, [...path, index])));
  } else if (s.type === 'union' && s.options && isRecord(input)) {
    const objects = s.options.filter((o) => ['strict_object', 'object', 'loose_object'].includes(unwrap(o).type));
    if (objects.length === 1) out.push(...unknownKeys(objects[0]!, input, path));
  }
  return out;
}

const TYPE_WORDS: Record<string, string> = {
  number: 'a number', string: 'text (a string)', boolean: 'true or false', array: 'a list', strict_object: 'a mapping (an object)',
  object: 'a mapping (an object)', loose_object: 'a mapping (an object)', integer: 'a whole number',
};

const picklistOptions = (expected: string | null): string[] => [...(expected ?? '').matchAll(/"([^"]*)"/g)].map((m) => m[1]!);

/** One valibot issue worded for an operator, or several (a union names what failed in the option that fitted). */
export function issueProblems(issue: v.BaseIssue<unknown>, prefix: readonly (string | number)[] = []): Problem[] {
  const keys = issue.path?.map((p) => p.key as string | number) ?? [];
  const path = [...prefix, ...keys];
  const last = issue.path?.at(-1);
  const got = issue.received;
  if (last && (last as { origin?: string }).origin === 'key') {
    return [{ path, message: issue.expected === 'never' ? 'unknown key' : 'required' }];
  }
  // Our own messages (v.check, minLength('...')) are already worded; valibot's defaults start with "Invalid ".
  if (!issue.message.startsWith('Invalid ')) return [{ path, message: issue.message }];
  switch (issue.type) {
    case 'union': {
      // Drop the options whose type did not fit (an object given as text); report what failed in the one that did.
      // The options' issues have paths relative to the union.
      const inner = (issue.issues ?? []).filter((i) => !(i.kind === 'schema' && !i.path?.length && i.type !== 'union'));
      if (inner.length) return inner.flatMap((i) => issueProblems(i, path));
      return [{ path, message: `must be ${issue.expected?.replace(/^\(|\)$/g, '').split(' | ').map((t) => TYPE_WORDS[t.toLowerCase()] ?? t).join(' or ')} (got ${got})` }];
    }
    case 'picklist': {
      const options = picklistOptions(issue.expected);
      const guess = typeof issue.input === 'string' ? closest(issue.input, options) : undefined;
      return [{ path, message: `must be one of ${options.map((o) => `"${o}"`).join(', ')} (got ${got})${guess ? `; did you mean "${guess}"?` : ''}` }];
    }
    case 'integer':
      return [{ path, message: `must be a whole number (got ${got})` }];
    case 'min_value':
      return [{ path, message: `must be at least ${String(issue.requirement)} (got ${got})` }];
    case 'max_value':
      return [{ path, message: `must be at most ${String(issue.requirement)} (got ${got})` }];
    case 'min_length':
      return [{ path, message: `must have at least ${String(issue.requirement)} ${Array.isArray(issue.input) ? 'entries' : 'characters'}` }];
    case 'max_length':
      return [{ path, message: `must have at most ${String(issue.requirement)} ${Array.isArray(issue.input) ? 'entries' : 'characters'} (got ${(issue.input as { length?: number }).length})` }];
    case 'finite':
      return [{ path, message: `must be a finite number (got ${got})` }];
    case 'url':
      return [{ path, message: `must be a URL (got ${got})` }];
    case 'regex':
      return [{ path, message: `has the wrong form (got ${got}; expected ${issue.expected})` }];
    default:
      if (issue.kind === 'schema') return [{ path, message: `must be ${TYPE_WORDS[issue.type] ?? issue.expected ?? issue.type} (got ${got})` }];
      return [{ path, message: issue.message }];
  }
}

/**
 * Validates `input` with `schema` and returns the output, or every problem: all unknown keys (with suggestions) and
 * every other issue, each worded for an operator and prefixed with `path`.
 */
export function check<S extends v.GenericSchema>(schema: S, input: unknown, path: readonly (string | number)[] = []):
  { ok: true; value: v.InferOutput<S> } | { ok: false; problems: Problem[] } {
  const result = v.safeParse(schema, input);
  const unknown = unknownKeys(schema, input, path);
  const seen = new Set(unknown.map((p) => p.path.join('.')));
  const problems = [...unknown];
  for (const issue of result.success ? [] : result.issues) {
    for (const problem of issueProblems(issue, path)) {
      const key = `${problem.path.join('.')}\n${problem.message}`;
      // The first unknown key valibot reports is already in `unknown`, with its suggestion.
      if (seen.has(problem.path.join('.')) && problem.message === 'unknown key') continue;
      if (seen.has(key)) continue;
      seen.add(key);
      problems.push(problem);
    }
  }
  if (problems.length || !result.success) return { ok: false, problems: problems.length ? problems : [{ path, message: 'invalid' }] };
  return { ok: true, value: result.output };
}
