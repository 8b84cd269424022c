/**
 * A region's data (its database, its chunks, its credentials) is for the Ferry process alone: folders are
 * created 0700 and files 0600, whatever the umask, so another user of the machine reads nothing of it.
 * @module
 */
import { chmod, mkdir, open } from 'node:fs/promises';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) as 0700; a folder that already exists keeps its mode. */
export async function makePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * A folder of Ferry's own (a region's): created 0700, and narrowed to 0700 if an earlier version made it
 * with the umask's mode, so an upgraded deployment is closed too.
 */
export async function ownPrivateDir(dir: string): Promise<void> {
  await makePrivateDir(dir);
  await chmod(dir, PRIVATE_DIR_MODE);
}

/**
 * Makes sure `file` exists with mode 0600 (created empty if missing, narrowed if not), before a library that
 * creates files with the umask's mode opens it: SQLite gives its -wal and -shm files the mode of the database.
 */
export async function ownPrivateFile(file: string): Promise<void> {
  const handle = await open(file, 'a', PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
  } finally {
    await handle.close();
  }
}
