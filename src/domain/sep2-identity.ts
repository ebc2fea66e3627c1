/**
 * IEEE 2030.5 device identifiers (reference ieee2030_5-registration §3.2): LFDI, SFDI and the registration PIN.
 * Pure; the certificate hashing lives in the adapter.
 */

const HEX40 = /^[0-9A-Fa-f]{40}$/;

/** LFDI = the first 160 bits of the SHA-256 fingerprint of the certificate's DER, as 40 uppercase hex digits. */
export function lfdiFromFingerprint(sha256Hex: string): string {
  const hex = sha256Hex.replace(/:/g, '');
  if (!/^[0-9A-Fa-f]{64}$/.test(hex)) throw new RangeError('a SHA-256 fingerprint has 64 hex digits');
  return hex.slice(0, 40).toUpperCase();
}

/** Accepts an LFDI in either case, without `0x`; returns it uppercased, or throws a clear error. */
export function normalizeLfdi(text: string): string {
  const trimmed = text.trim();
  if (/^0x/i.test(trimmed)) throw new RangeError(`LFDI "${text}" must be 40 hex digits without 0x`);
  if (!HEX40.test(trimmed)) throw new RangeError(`LFDI "${text}" must be exactly 40 hex digits (160 bits)`);
  return trimmed.toUpperCase();
}

const digitSum = (digits: string): number => [...digits].reduce((sum, d) => sum + Number(d), 0);

/**
 * SFDI (IEEE 2030.5-2018 §6.3.5): the first 9 hex digits (36 bits) of the LFDI as a decimal number, followed by a
 * check digit that makes the digit sum a multiple of 10. Not Luhn. Returned as a decimal string (it never becomes
 * a JS number on the wire); may have fewer than 12 digits when the LFDI starts with zeros.
 */
export function sfdiFromLfdi(lfdi: string): string {
  const value = BigInt(`0x${normalizeLfdi(lfdi).slice(0, 9)}`).toString(10);
  const check = (10 - (digitSum(value) % 10)) % 10;
  return `${value}${check}`;
}

/** envoy's registration PIN: the configured 5 digits plus `digitsum mod 10` (envoy add_checksum_to_registration_pin). */
export function pinWithCheckDigit(pin: number): number {
  if (!Number.isInteger(pin) || pin < 0 || pin > 99_999) throw new RangeError('a registration PIN before its check digit has at most 5 digits');
  return pin * 10 + (digitSum(String(pin)) % 10);
}

export const lfdiEquals = (a: string, b: string): boolean => a.toUpperCase() === b.toUpperCase();
