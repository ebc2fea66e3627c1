/**
 * v1/v2 API detection from `version.applicationFirmwareVersion` (reference §2.3, §6.2 item 1).
 *
 * The reference driver splits on "." and compares the second component with "1" as a string, so "0.10.0.0" and
 * "2.0.0.0" are misjudged. Here the version is compared numerically, component by component, with 0.2: real
 * firmware is numbered 0.x.y.z (the OCMF sample carries MU-0.1.4.0, a v1 unit), so the second component is the one
 * that counts while the major stays 0, and any higher major is newer still.
 */
export type ApiVersion = 'v1' | 'v2';

export function parseFirmwareVersion(text: string): number[] | undefined {
  const parts = text.trim().split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,9}$/.test(p))) return undefined;
  return parts.map(Number);
}

export function apiVersionOfFirmware(text: string): ApiVersion {
  const version = parseFirmwareVersion(text);
  if (!version) return 'v1';
  const [major = 0, minor = 0] = version;
  return major > 0 || minor >= 2 ? 'v2' : 'v1';
}
