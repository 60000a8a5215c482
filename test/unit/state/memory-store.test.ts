import { MemoryStore } from '../../../lib/state/memory-store.ts';
import { describeStoreContract } from './store-contract.ts';

describeStoreContract('MemoryStore', async () => new MemoryStore());
