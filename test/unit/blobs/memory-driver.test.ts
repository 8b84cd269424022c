// The in-memory driver passes the BlobDriver contract suite.
import { createMemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { runBlobDriverContract } from '../../contracts/blob-driver.js';

runBlobDriverContract('memory', async () => createMemoryBlobDriver());
