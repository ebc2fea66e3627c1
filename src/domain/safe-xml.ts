/**
 * The input format of the S.A.F.E. e.V. transparency software (Transparenzsoftware), the tool a customer uses to
 * check a signed meter value under German calibration law. Source: the SAFE-eV/transparenzsoftware repository,
 * `XML_Format.md` (the format description and example) and `src/main/java/.../verification/xml/` (`values.xsd`,
 * the JAXB classes `Values`, `Value`, `SignedData`, `PublicKey`, `EncodingType`):
 *
 * ```xml
 * <?xml version="1.0" encoding="UTF-8"?>
 * <values>
 *   <value transactionId="1" context="Transaction.End">
 *     <publicKey encoding="hex">3059301306072A8648CE3D0201…</publicKey>
 *     <signedData format="OCMF" encoding="plain">OCMF|{…}|{…}</signedData>
 *   </value>
 * </values>
 * ```
 *
 * - `value@transactionId` is an integer (xs:integer, a Java BigInteger): the dataset's number in the software's
 *   tree, and the key that pairs a begin and an end dataset. Our transaction ids are strings, so each record gets
 *   its own number 1, 2, … (the OCMF payload carries the real identification). One value per transaction: a LEM
 *   record holds both the begin and the end reading, so `context` is `Transaction.End` (valid in the XSD and
 *   in the Java constants, which disagree on the begin name: `Transaction.Start` / `Transaction.Begin`).
 * - `publicKey` comes first, as the XSD's sequence orders it (the JAXB reader accepts either order). The meter's
 *   OCMF key is SubjectPublicKeyInfo DER in hex, which is what the software's own example carries, so
 *   `encoding="hex"` (the codes are base64, base32, plain, hex). It is optional; without it the user pastes one.
 *   A key that is not hex is left out rather than mislabelled.
 * - `signedData` carries the record as transmitted (`encoding="plain"`), with no whitespace around it: the
 *   software verifies the signature over the payload text exactly.
 */

export interface SafeXmlRecord {
  ocmf: string;
  /** SPKI DER hex (LEM `publicKeyOcmf`); null: left out. */
  publicKey: string | null;
}

/**
 * XML 1.0 element text: `&`, `<` and `>` escaped (quotes may stay, so the OCMF JSON reads as it is); characters
 * XML 1.0 cannot carry at all are refused (JSON escapes them, so a real record has none).
 */
export function escapeXmlText(text: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/.test(text)) throw new Error('the record holds a character XML 1.0 cannot carry');
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function safeXml(records: readonly SafeXmlRecord[]): string {
  const values = records.map((record, index) => {
    const key = record.publicKey && /^[0-9A-Fa-f]+$/.test(record.publicKey.trim()) ? `\n    <publicKey encoding="hex">${escapeXmlText(record.publicKey.trim())}</publicKey>` : '';
    return `  <value transactionId="${index + 1}" context="Transaction.End">${key}\n    <signedData format="OCMF" encoding="plain">${escapeXmlText(record.ocmf.trim())}</signedData>\n  </value>\n`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<values>\n${values.join('')}</values>\n`;
}
