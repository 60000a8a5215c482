import { readFile, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import type { ControlPlanePki } from './certs.ts';

/** A kubeconfig document (the subset written here), as accepted by KubeConfig.loadFromString. */
export interface KubeconfigDocument {
  apiVersion: 'v1';
  kind: 'Config';
  clusters: { name: string; cluster: { server: string; 'certificate-authority-data': string } }[];
  users: { name: string; user: { 'client-certificate-data': string; 'client-key-data': string } }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  'current-context': string;
}

const NAME = 'anex-test';

/** Admin kubeconfig (client certificate in system:masters) for the server, credentials inline. */
export async function adminKubeconfig(server: string, pki: ControlPlanePki): Promise<KubeconfigDocument> {
  const base64 = async (path: string): Promise<string> => (await readFile(path)).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: NAME, cluster: { server, 'certificate-authority-data': await base64(pki.caCert) } }],
    users: [
      {
        name: 'admin',
        user: {
          'client-certificate-data': await base64(pki.adminCert),
          'client-key-data': await base64(pki.adminKey),
        },
      },
    ],
    contexts: [{ name: NAME, context: { cluster: NAME, user: 'admin' } }],
    'current-context': NAME,
  };
}

/** Writes the kubeconfig readable by the owner only: it holds a private key. */
export async function writeKubeconfig(path: string, document: KubeconfigDocument): Promise<string> {
  const yaml = stringify(document);
  await writeFile(path, yaml, { mode: 0o600 });
  return yaml;
}
