/**
 * Every file a config names, read and checked once, before anything connects: each meter's `meter_tls_certificate`
 * when it is a path (a PEM certificate), the 2030.5 client certificate chain, its private key (which must belong
 * to the chain's first certificate) and the server CA, and that `state_dir` can hold the journal. All problems are
 * reported at once as a ConfigError, each with the config key and the resolved path, so that `run` exits 2 with the
 * list, as `config check` does, instead of dying on ENOENT. Relative paths are taken from the working directory
 * (as `register` does). The PEM texts are returned, so that nothing reads the files again.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pinCertificate } from '../adapters/http/pinned-tls.js';
import { ConfigError } from './config-error.js';
import type { ControllerConfig } from './controller.config.js';
import { certificateProblem, certificateSetting } from './meter.config.js';

export interface ConfigFiles {
  /** Parallel to `config.meters`: the pinned certificate's PEM text, "" for plain HTTP. */
  meterCertificates: string[];
  /** The 2030.5 client's mutual-TLS material, when registration is configured. */
  registrationTls: { certPem: string; keyPem: string; caPem: string } | undefined;
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function readProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied (the controller cannot read it)';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return (error as Error).message;
}

/** The certificates of a PEM file, parsed; throws a message naming what is wrong. */
function certificates(pem: string): X509Certificate[] {
  const blocks = pem.match(CERTIFICATE) ?? [];
  if (!blocks.length) throw new Error('holds no PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`certificate ${i + 1} of the file does not parse: ${(error as Error).message}`, { cause: error });
    }
  });
}

/** Whether `dir` exists as a writable directory, or can be created (its nearest existing ancestor is one). */
async function stateDirProblem(dir: string): Promise<string | undefined> {
  let current = resolve(dir);
  for (;;) {
    try {
      const info = await stat(current);
      if (!info.isDirectory()) return current === resolve(dir) ? `${current} is not a directory` : `cannot create ${resolve(dir)}: ${current} is not a directory`;
      await access(current, constants.W_OK);
      return undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(current) !== current) {
        current = dirname(current);
        continue;
      }
      if (code === 'EACCES' || code === 'EPERM') return `${current} is not writable by the controller (the journal lives in state_dir)`;
      return `${current}: ${(error as Error).message}`;
    }
  }
}

/** Reads and checks every file `config` names; throws one ConfigError listing every problem. */
export async function loadConfigFiles(config: ControllerConfig, source = 'config', stateDir = config.stateDir): Promise<ConfigFiles> {
  const problems: string[] = [];
  const read = async (key: string, path: string): Promise<string | undefined> => {
    const absolute = resolve(path);
    try {
      return await readFile(absolute, 'utf8');
    } catch (error) {
      problems.push(`${key}: cannot read ${absolute}: ${readProblem(error)}`);
      return undefined;
    }
  };

  const meterCertificates = await Promise.all(config.meters.map(async (meter, i) => {
    const key = config.meterCertificateKeys?.[i] ?? `meters.${i}.meter_tls_certificate`;
    const setting = certificateSetting(meter.meter_tls_certificate);
    if (setting.kind === 'none') return '';
    if (setting.kind === 'pem') return setting.pem;
    const text = await read(key, setting.path);
    if (text === undefined) return '';
    try {
      pinCertificate(text);
    } catch (error) {
      problems.push(`${key}: ${resolve(setting.path)} is ${certificateProblem(error)}`);
    }
    return text;
  }));

  let registrationTls: ConfigFiles['registrationTls'];
  const tls = config.registration?.tls;
  if (tls) {
    const [certPem, keyPem, caPem] = await Promise.all([
      read('registration.tls.certificate', tls.certificate), read('registration.tls.key', tls.key), read('registration.tls.ca', tls.ca),
    ]);
    let leaf: X509Certificate | undefined;
    if (certPem !== undefined) {
      try {
        leaf = certificates(certPem)[0];
      } catch (error) {
        problems.push(`registration.tls.certificate: ${resolve(tls.certificate)} ${(error as Error).message}`);
      }
    }
    let key: KeyObject | undefined;
    if (keyPem !== undefined) {
      try {
        key = createPrivateKey(keyPem);
      } catch (error) {
        problems.push(`registration.tls.key: ${resolve(tls.key)} is not a usable PEM private key (${(error as Error).message}; an encrypted key is not supported)`);
      }
    }
    if (leaf && key && !leaf.checkPrivateKey(key)) {
      problems.push(`registration.tls.key: ${resolve(tls.key)} does not belong to the first certificate of registration.tls.certificate (SHA-256 ${leaf.fingerprint256})`);
    }
    if (caPem !== undefined) {
      try {
        certificates(caPem);
      } catch (error) {
        problems.push(`registration.tls.ca: ${resolve(tls.ca)} ${(error as Error).message}`);
      }
    }
    if (certPem !== undefined && keyPem !== undefined && caPem !== undefined) registrationTls = { certPem, keyPem, caPem };
  }

  const dirProblem = await stateDirProblem(stateDir);
  if (dirProblem) problems.push(`${stateDir === config.stateDir ? 'state_dir' : '--state-dir'}: ${dirProblem}`);

  if (problems.length) throw new ConfigError(source, problems);
  return { meterCertificates, registrationTls };
}

/**
 * The config with its files read and checked (`files`), and each meter's `meter_tls_certificate` given as a path
 * replaced by the PEM text it holds. A config that already has its files is returned as it is.
 */
export async function resolveConfigFiles(config: ControllerConfig, source = 'config', stateDir = config.stateDir): Promise<ControllerConfig> {
  if (config.files) return config;
  const files = await loadConfigFiles(config, source, stateDir);
  return { ...config, meters: config.meters.map((meter, i) => ({ ...meter, meter_tls_certificate: files.meterCertificates[i] ?? '' })), files };
}
