import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalStore, openLocalStore } from '../../../lib/local/local-store.ts';
import type { Ban } from '../../../lib/state/store.ts';
import { createTestTable, dynamoInfo } from '../../support/index.ts';

const opened: LocalStore[] = [];
const dirs: string[] = [];

async function open(options: Parameters<typeof openLocalStore>[0]): Promise<LocalStore> {
  const store = await openLocalStore(options);
  opened.push(store);
  return store;
}

async function aDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'anex-store-'));
  dirs.push(dir);
  return dir;
}

function aBan(machineId: string): Ban {
  const now = Date.now();
  return { provider: 'vastai', machineId, expiresAt: now + 3_600_000, reason: 'test', createdAt: now };
}

afterEach(async () => {
  for (const store of opened.splice(0).reverse()) await store.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('openLocalStore (embedded dynalite, real AWS SDK)', () => {
  it('keeps state in the data dir across a close and a reopen', async () => {
    const dataDir = await aDataDir();
    const first = await open({ dataDir });
    await first.store.putBan(aBan('41'));
    await first.close();
    opened.pop();
    const again = await open({ dataDir });
    expect((await again.store.listBans('vastai', Date.now())).map((b) => b.machineId)).toEqual(['41']);
  });

  it("shares a publishing process's store with other commands, and refuses a second publisher", async () => {
    const dataDir = await aDataDir();
    const runner = await open({ dataDir, publish: true });
    const endpoint = (await readFile(join(dataDir, 'store-endpoint'), 'utf8')).trim();
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const command = await open({ dataDir });
    expect(command.where).toContain('served by a running anex run');
    await command.store.putBan(aBan('42'));
    expect((await runner.store.listBans('vastai', Date.now())).map((b) => b.machineId)).toEqual(['42']);
    await expect(openLocalStore({ dataDir, publish: true })).rejects.toThrow(
      `another anex run is using ${dataDir}`,
    );
  });

  it('ignores a stale endpoint file left by a process that died', async () => {
    const dataDir = await aDataDir();
    await writeFile(join(dataDir, 'store-endpoint'), 'http://127.0.0.1:9');
    const store = await open({ dataDir, publish: true });
    expect(store.where).toBe(dataDir);
    expect(await readFile(join(dataDir, 'store-endpoint'), 'utf8')).not.toBe('http://127.0.0.1:9');
  });

  it('uses an existing table at --endpoint, and names a missing one', async () => {
    const table = await createTestTable();
    const store = await open({ endpoint: dynamoInfo().endpoint, table });
    await store.store.putBan(aBan('43'));
    expect((await store.store.listBans('vastai', Date.now())).map((b) => b.machineId)).toEqual(['43']);
    await expect(openLocalStore({ endpoint: dynamoInfo().endpoint, table: 'anex-missing' })).rejects.toThrow(
      'DynamoDB table anex-missing does not exist',
    );
  });
});
