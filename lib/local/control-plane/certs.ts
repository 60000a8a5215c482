import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ControlPlaneError } from './errors.ts';

const run = promisify(execFile);

/** PEM files of the throwaway PKI of one test control plane (all under one directory). */
export interface ControlPlanePki {
  /** CA that signs both the apiserver's serving certificate and client certificates */
  caCert: string;
  caKey: string;
  /** serving certificate for localhost / 127.0.0.1 */
  servingCert: string;
  servingKey: string;
  /** client certificate of the admin user, group system:masters (bypasses RBAC) */
  adminCert: string;
  adminKey: string;
  /** RSA key pair that signs / verifies service-account tokens */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

export const ADMIN_USER = 'anex-test-admin';
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
const DAYS = ['-days', '7'];

/**
 * Generates the PKI with the `openssl` CLI (Node has no X.509 issuing API). One CA for
 * serving and client certificates, as envtest-js does; EC P-256 keys; valid one week.
 */
export async function generatePki(dir: string): Promise<ControlPlanePki> {
  await requireOpenssl();
  const pki = pkiPaths(dir);
  await openssl([
    'req',
    '-x509',
    ...EC,
    ...DAYS,
    '-keyout',
    pki.caKey,
    '-out',
    pki.caCert,
    '-subj',
    '/CN=anex-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await issue(dir, {
    name: 'apiserver',
    subject: '/CN=localhost',
    cert: pki.servingCert,
    key: pki.servingKey,
    pki,
    extensions: 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n',
  });
  await issue(dir, {
    name: 'admin',
    subject: `/O=system:masters/CN=${ADMIN_USER}`,
    cert: pki.adminCert,
    key: pki.adminKey,
    pki,
    extensions: 'extendedKeyUsage=clientAuth\n',
  });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  await writeFile(pki.serviceAccountKey, privateKey, { mode: 0o600 });
  await writeFile(pki.serviceAccountPub, publicKey);
  return pki;
}

function pkiPaths(dir: string): ControlPlanePki {
  const at = (file: string): string => join(dir, file);
  return {
    caCert: at('ca.crt'),
    caKey: at('ca.key'),
    servingCert: at('apiserver.crt'),
    servingKey: at('apiserver.key'),
    adminCert: at('admin.crt'),
    adminKey: at('admin.key'),
    serviceAccountKey: at('sa.key'),
    serviceAccountPub: at('sa.pub'),
  };
}

interface IssueRequest {
  name: string;
  subject: string;
  cert: string;
  key: string;
  extensions: string;
  pki: ControlPlanePki;
}

async function issue(dir: string, request: IssueRequest): Promise<void> {
  const csr = join(dir, `${request.name}.csr`);
  const ext = join(dir, `${request.name}.ext`);
  await writeFile(ext, request.extensions);
  await openssl(['req', ...EC, '-keyout', request.key, '-out', csr, '-subj', request.subject]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    request.pki.caCert,
    '-CAkey',
    request.pki.caKey,
    '-CAcreateserial',
    '-CAserial',
    join(dir, 'ca.srl'),
    ...DAYS,
    '-out',
    request.cert,
    '-extfile',
    ext,
  ]);
}

async function requireOpenssl(): Promise<void> {
  try {
    await run('openssl', ['version']);
  } catch (error) {
    throw new ControlPlaneError(
      'openssl',
      'the `openssl` CLI is needed to create the control plane certificates but could not be run (Debian/Ubuntu: apt-get install openssl)',
      { cause: error },
    );
  }
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new ControlPlaneError('openssl', `\`openssl ${args[0]}\` failed: ${stderr.trim()}`, {
      cause: error,
    });
  }
}
