/**
 * EVerest drop-in. An EVerest config file (`active_modules: {<id>: {module, config_module, ...}}`, with `settings`
 * and `x-module-layout` beside it) can be given as the controller config, and one module entry can be pasted under
 * `meters:`. Every `LemDCBM400600` entry is a meter named by its module id; its settings are `config_module` (the
 * manifest declares module-level config) or, as older configs wrote them, `config_implementation.main`. Other
 * modules are listed as ignored. A non-LEM module pasted as a meter is an error, never a LEM meter by accident.
 * Entry keys follow EVerest's config schema (lib/everest/framework/schemas/config.yaml).
 */
import { closest, isRecord, unknownKeyMessage, type Problem } from './config-problems.js';

export const LEM_MODULE = 'LemDCBM400600';

/** The keys EVerest's config schema allows in a module entry, and this controller's own two. */
const ENTRY_KEYS = ['module', 'config_module', 'config_implementation', 'standalone', 'capabilities', 'telemetry', 'connections', 'mapping', 'access'];
const OWN_ENTRY_KEYS = ['name', 'evse_id'];

type Path = readonly (string | number)[];

export const isEverestModuleEntry = (input: unknown): input is Record<string, unknown> => isRecord(input) && 'module' in input;

/** "GenericPowermeter is not a LEM DCBM" (with a suggestion when the name is a typo of LemDCBM400600). */
function notLem(module: unknown): string {
  if (typeof module !== 'string') return `must be the EVerest module name "${LEM_MODULE}" (got ${JSON.stringify(module)})`;
  const guess = closest(module, [LEM_MODULE]);
  return guess
    ? `"${module}" is not an EVerest module this controller drives; did you mean "${LEM_MODULE}"?`
    : `"${module}" is not a LEM DCBM meter: this controller drives ${LEM_MODULE} modules only (remove the entry, or list it under active_modules, where other modules are ignored)`;
}

/**
 * The LEM settings of a module entry at `path`, merged from `config_module` and `config_implementation.main`, with
 * the path each key came from. `settings` is undefined when the entry is no LEM meter.
 */
export function everestMeterSettings(entry: Record<string, unknown>, path: Path):
  { settings: Record<string, unknown> | undefined; keyPath: (key: string) => (string | number)[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const fail = { settings: undefined, keyPath: (key: string) => [...path, key], problems };
  if (entry.module !== LEM_MODULE) {
    problems.push({ path: [...path, 'module'], message: notLem(entry.module) });
    return fail;
  }
  for (const key of Object.keys(entry)) {
    if (!ENTRY_KEYS.includes(key) && !OWN_ENTRY_KEYS.includes(key)) {
      problems.push({ path: [...path, key], message: unknownKeyMessage(key, [...ENTRY_KEYS, ...OWN_ENTRY_KEYS], `an EVerest module entry takes ${ENTRY_KEYS.join(', ')}; the meter's settings go in config_module`) });
    }
  }
  const maps: { prefix: (string | number)[]; map: Record<string, unknown> }[] = [];
  if (entry.config_module !== undefined) {
    if (isRecord(entry.config_module)) maps.push({ prefix: [...path, 'config_module'], map: entry.config_module });
    else problems.push({ path: [...path, 'config_module'], message: 'must be a mapping of the meter\'s settings (ip_address, port, ...)' });
  }
  if (entry.config_implementation !== undefined) {
    const impl = entry.config_implementation;
    if (!isRecord(impl)) {
      problems.push({ path: [...path, 'config_implementation'], message: 'must be a mapping of implementation ids (main) to settings' });
    } else {
      for (const [id, map] of Object.entries(impl)) {
        if (id !== 'main') problems.push({ path: [...path, 'config_implementation', id], message: unknownKeyMessage(id, ['main'], `${LEM_MODULE} provides one implementation, \`main\``) });
        else if (!isRecord(map)) problems.push({ path: [...path, 'config_implementation', 'main'], message: 'must be a mapping of the meter\'s settings' });
        else maps.push({ prefix: [...path, 'config_implementation', 'main'], map });
      }
    }
  }
  if (!maps.length) {
    if (!problems.length) problems.push({ path: [...path, 'config_module'], message: `required: the ${LEM_MODULE} settings (at least ip_address)` });
    return fail;
  }
  const settings: Record<string, unknown> = {};
  const origin = new Map<string, (string | number)[]>();
  for (const { prefix, map } of maps) {
    for (const [key, value] of Object.entries(map)) {
      if (origin.has(key)) {
        problems.push({ path: [...prefix, key], message: `also set in ${origin.get(key)!.join('.')}; keep one` });
        continue;
      }
      settings[key] = value;
      origin.set(key, prefix);
    }
  }
  // The controller's own keys may sit beside `module` (as when the entry is pasted under meters:).
  for (const key of OWN_ENTRY_KEYS) {
    if (entry[key] === undefined) continue;
    if (origin.has(key)) problems.push({ path: [...path, key], message: `also set in ${origin.get(key)!.join('.')}; keep one` });
    settings[key] = entry[key];
    origin.set(key, [...path]);
  }
  const fallback = maps[0]!.prefix;
  return { settings, keyPath: (key) => [...(origin.get(key) ?? fallback), key], problems };
}

export interface EverestModules {
  /** LemDCBM400600 entries by module id, in file order. */
  meters: { id: string; entry: Record<string, unknown> }[];
  /** The other modules, `id (Module)`. */
  ignored: string[];
  problems: Problem[];
}

/** Splits an EVerest `active_modules` map into its LEM meters and the modules this controller ignores. */
export function everestModules(activeModules: unknown, path: Path): EverestModules {
  const out: EverestModules = { meters: [], ignored: [], problems: [] };
  if (!isRecord(activeModules)) {
    out.problems.push({ path, message: 'must be a mapping of EVerest module ids to module entries' });
    return out;
  }
  for (const [id, entry] of Object.entries(activeModules)) {
    if (!isRecord(entry) || typeof entry.module !== 'string') {
      out.problems.push({ path: [...path, id], message: 'an EVerest module entry needs `module` (the module name, e.g. LemDCBM400600)' });
    } else if (entry.module === LEM_MODULE) {
      out.meters.push({ id, entry });
    } else if (closest(entry.module, [LEM_MODULE]) !== undefined) {
      out.problems.push({ path: [...path, id, 'module'], message: notLem(entry.module) });
    } else {
      out.ignored.push(`${id} (${entry.module})`);
    }
  }
  return out;
}
