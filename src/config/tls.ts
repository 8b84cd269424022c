/**
 * TLS settings of a region (the `tls` section of the deployment settings): the certificate its server
 * presents, and which certificate authorities it trusts for the other regions' certificates. A region given
 * a certificate and key serves HTTPS only; its catalog endpoint must then be `https:`.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { FerryError } from '../domain/errors.js';

export interface TlsSettings {
  /** PEM certificate (chain) the region's server presents; with `keyFile`, it serves HTTPS (default: null, plain HTTP). */
  certFile: string | null;
  /** PEM private key of `certFile` (default: null). */
  keyFile: string | null;
  /**
   * PEM file of CA certificates trusted for the other regions' certificates, besides Node's bundled root
   * certificates unless `peerCaOnly` (default: null: Node's bundled roots, and NODE_EXTRA_CA_CERTS).
   */
  peerCaFile: string | null;
  /** Trust `peerCaFile` alone for the other regions, not Node's bundled roots (default: false). */
  peerCaOnly: boolean;
}

export const DEFAULT_TLS_SETTINGS: TlsSettings = {
  certFile: null,
  keyFile: null,
  peerCaFile: null,
  peerCaOnly: false,
};

/** What a region uses at run time, read from the files the settings name. */
export interface RegionTls {
  /** The server's certificate and key; undefined: the region serves plain HTTP. */
  server?: { cert: Buffer; key: Buffer };
  /** CA certificates trusted for peers; undefined: Node's defaults. */
  peerCa?: string[];
}

function refuse(message: string): never {
  throw new FerryError('VALIDATION_FAILED', `settings: ${message}`);
}

/** Validates the `tls` section of a settings file. */
export function parseTlsSettings(value: unknown): Partial<TlsSettings> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) refuse('tls must be an object');
  const settings: Partial<TlsSettings> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'peerCaOnly') {
      if (typeof v !== 'boolean') refuse('tls.peerCaOnly must be true or false');
      settings.peerCaOnly = v;
    } else if (key === 'certFile' || key === 'keyFile' || key === 'peerCaFile') {
      if (v !== null && (typeof v !== 'string' || v === '')) refuse(`tls.${key} must be a file path or null`);
      settings[key] = v as string | null;
    } else refuse(`unknown key tls.${key}`);
  }
  if (((settings.certFile ?? null) === null) !== ((settings.keyFile ?? null) === null)) {
    refuse('tls.certFile and tls.keyFile go together: give both, or neither');
  }
  if (settings.peerCaOnly === true && (settings.peerCaFile ?? null) === null) {
    refuse('tls.peerCaOnly needs tls.peerCaFile');
  }
  return settings;
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    return refuse(`cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** Reads the files `settings` names. */
export async function loadRegionTls(settings: Partial<TlsSettings> = {}): Promise<RegionTls> {
  const { certFile, keyFile, peerCaFile, peerCaOnly } = { ...DEFAULT_TLS_SETTINGS, ...settings };
  const tls: RegionTls = {};
  if (certFile !== null && keyFile !== null) {
    tls.server = {
      cert: await readPem(certFile, 'the certificate (tls.certFile)'),
      key: await readPem(keyFile, 'the key (tls.keyFile)'),
    };
  }
  if (peerCaFile !== null) {
    const pem = (await readPem(peerCaFile, 'the CA file (tls.peerCaFile)')).toString('utf8');
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) refuse(`${peerCaFile} holds no PEM certificate`);
    tls.peerCa = peerCaOnly ? [pem] : [...rootCertificates, pem];
  }
  return tls;
}
