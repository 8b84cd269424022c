/**
 * Certificates for tests of regions over HTTPS, made with `openssl`: a CA, and certificates it signs for
 * 127.0.0.1 (an IP SAN, what the regions' endpoints name). Also FERRY_TEST_TLS: with it set to 1,
 * `startTestDeployment` starts its regions over HTTPS (`testDeploymentTls`), and this process's `fetch`
 * (and the child processes it starts) trust the CA.
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { promisify } from 'node:util';
import { Agent, setGlobalDispatcher } from 'undici';
import type { TlsSettings } from '../../src/config/tls.js';

const run = promisify(execFile);

/** EC P-256 keys: made in milliseconds, where RSA keys take a noticeable part of a second each. */
const KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface TestCa {
  /** The CA's certificate (PEM). */
  caFile: string;
  /** A certificate and key signed by the CA for `name`, valid for the IP addresses given (127.0.0.1). */
  issue(name: string, ips?: string[]): Promise<{ certFile: string; keyFile: string }>;
}

/** A new CA in `dir` (its files are named after `name`). */
export async function makeTestCa(dir: string, name = 'ferry-test-ca'): Promise<TestCa> {
  const caFile = join(dir, `${name}.crt`);
  const caKey = join(dir, `${name}.key`);
  await run('openssl', [
    'req',
    '-x509',
    ...KEY,
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  let serial = 1;
  return {
    caFile,
    async issue(leaf, ips = ['127.0.0.1']) {
      const keyFile = join(dir, `${leaf}.key`);
      const certFile = join(dir, `${leaf}.crt`);
      const csr = join(dir, `${leaf}.csr`);
      const ext = join(dir, `${leaf}.ext`);
      await writeFile(
        ext,
        `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}\n` +
          'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
      );
      await run('openssl', ['req', ...KEY, '-keyout', keyFile, '-out', csr, '-subj', `/CN=${leaf}`]);
      await run('openssl', [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        caFile,
        '-CAkey',
        caKey,
        '-set_serial',
        String(serial++),
        '-days',
        '2',
        '-extfile',
        ext,
        '-out',
        certFile,
      ]);
      return { certFile, keyFile };
    },
  };
}

/** The CAs this process's `fetch` trusts besides Node's roots (trustInFetch). */
const fetchCas: string[] = [];

/**
 * Makes this process's `fetch` trust the CA in `caFile` too (an undici dispatcher with every such CA and
 * Node's roots; Node's `fetch` reads NODE_EXTRA_CA_CERTS only at start).
 */
export async function trustInFetch(caFile: string): Promise<void> {
  fetchCas.push(await readFile(caFile, 'utf8'));
  setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, ...fetchCas] } }));
}

/** Whether this run starts test deployments over HTTPS (FERRY_TEST_TLS=1). */
export const TEST_TLS = process.env.FERRY_TEST_TLS === '1';

let processTls: Promise<Partial<TlsSettings>> | undefined;

/** The CAs a raw TLS client of a FERRY_TEST_TLS deployment trusts (Node's roots and the test CA). */
export async function testDeploymentCa(): Promise<string[]> {
  const { peerCaFile } = await testDeploymentTls();
  return [...rootCertificates, await readFile(peerCaFile!, 'utf8')];
}

/**
 * FERRY_TEST_TLS's settings, made once per process: a CA and one certificate for 127.0.0.1 (every region
 * of a test deployment listens there), trusted alone by the regions for each other. This process's
 * `fetch` is given a dispatcher that trusts the CA besides Node's roots, and NODE_EXTRA_CA_CERTS names it
 * for the processes it starts (a `ferry` CLI); Node reads that variable only at start, hence both.
 */
export function testDeploymentTls(): Promise<Partial<TlsSettings>> {
  processTls ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-test-tls-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const ca = await makeTestCa(dir);
    const { certFile, keyFile } = await ca.issue('regions');
    await trustInFetch(ca.caFile);
    process.env.NODE_EXTRA_CA_CERTS = ca.caFile;
    return { certFile, keyFile, peerCaFile: ca.caFile, peerCaOnly: true };
  })();
  return processTls;
}
