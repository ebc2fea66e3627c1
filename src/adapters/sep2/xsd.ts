/**
 * XSD validation of 2030.5 documents with libxml2 (wasm), against the schemas in `../shared/schemas/` beside the
 * project (or `SEP_XSD_DIR`). `sep.xsd` is IEEE-copyrighted and never copied into the project: when it is absent,
 * `loadXsdValidators()` returns undefined and callers fall back to structural checks and say so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '../../project-root.js';
import { XmlDocument, XsdValidator } from 'libxml2-wasm';
import { xmlRegisterFsInputProviders } from 'libxml2-wasm/lib/nodejs.mjs';
import { CSIPAUS_NS, type CsipausVersion } from './xml.js';

export type SchemaName = 'sep' | 'csipaus-1.2' | 'csipaus-1.3';
const FILES: Record<SchemaName, string> = { sep: 'sep.xsd', 'csipaus-1.2': 'csipaus-core-v1.2.xsd', 'csipaus-1.3': 'csipaus-core-v1.3.xsd' };

/** The schema directory: `SEP_XSD_DIR`, else `../shared/schemas` beside the project root. */
export function schemaDirectory(): string {
  if (process.env.SEP_XSD_DIR) return resolve(process.env.SEP_XSD_DIR);
  return resolve(projectRoot(), '../shared/schemas');
}

export const SEP_XSD_MISSING = (dir: string): string =>
  `skipped: ${join(dir, 'sep.xsd')} not found — the IEEE 2030.5 schema is not redistributable; obtain it from IEEE and place it there (or set SEP_XSD_DIR)`;

/** The schema that applies to a document: its CSIP-AUS version's core schema, else plain 2030.5. */
export function schemaFor(xml: string): SchemaName {
  if (xml.includes(CSIPAUS_NS['1.3'])) return 'csipaus-1.3';
  if (xml.includes(CSIPAUS_NS['1.2'])) return 'csipaus-1.2';
  return 'sep';
}

export function schemaOfVersion(version: CsipausVersion | undefined): SchemaName {
  return version ? `csipaus-${version}` : 'sep';
}

export interface XsdValidators {
  dir: string;
  /** Validation problems, empty when the document is valid. */
  validate(xml: string, schema?: SchemaName): string[];
}

let registered = false;
const cache = new Map<string, XsdValidators | undefined>();

export function loadXsdValidators(dir = schemaDirectory()): XsdValidators | undefined {
  if (cache.has(dir)) return cache.get(dir);
  if (!existsSync(join(dir, FILES.sep))) {
    cache.set(dir, undefined);
    return undefined;
  }
  if (!registered) registered = xmlRegisterFsInputProviders() || true;
  const validators = new Map<SchemaName, XsdValidator>();
  const validatorFor = (name: SchemaName): XsdValidator => {
    let validator = validators.get(name);
    if (!validator) {
      const path = join(dir, FILES[name]);
      validator = XsdValidator.fromDoc(XmlDocument.fromBuffer(readFileSync(path), { url: path }));
      validators.set(name, validator);
    }
    return validator;
  };
  const result: XsdValidators = {
    dir,
    validate(xml, schema = schemaFor(xml)) {
      let doc: XmlDocument | undefined;
      try {
        doc = XmlDocument.fromString(xml);
        validatorFor(schema).validate(doc);
        return [];
      } catch (error) {
        const details = (error as { details?: { message: string }[] }).details;
        return details?.length ? details.map((d) => d.message.trim()) : [(error as Error).message.trim()];
      } finally {
        doc?.dispose();
      }
    },
  };
  cache.set(dir, result);
  return result;
}
