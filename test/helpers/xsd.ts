/** Test access to the XSD validators; tests skip with a clear message when sep.xsd is absent. */
import { loadXsdValidators, schemaDirectory, SEP_XSD_MISSING } from '../../src/adapters/sep2/xsd.js';

export const xsd = loadXsdValidators();
export const xsdMissingReason = xsd ? undefined : SEP_XSD_MISSING(schemaDirectory());
if (xsdMissingReason) console.warn(xsdMissingReason);
