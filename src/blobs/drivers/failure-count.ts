/**
 * A driver decorator that reports each failed operation (`onFailure('put')`) for the region's metrics, so
 * an operator sees a store that starts failing before users do. An absent object is an answer, not a failure.
 * @module
 */
import { BlobNotFoundError, type BlobDriver } from '../driver.js';

export function withFailureCount<D extends BlobDriver>(driver: D, onFailure: (operation: string) => void): D {
  const counted =
    <A extends unknown[], R>(operation: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (error) {
        if (!(error instanceof BlobNotFoundError)) onFailure(operation);
        throw error;
      }
    };
  return {
    ...driver,
    get: counted('get', (key: string) => driver.get(key)),
    // A failure of `use` (the reader's own, say a client that went away) is not the store's.
    async read<T>(key: string, use: (data: Buffer) => Promise<T>): Promise<T> {
      let usersFault = false;
      try {
        return await driver.read(key, (data) =>
          use(data).catch((error: unknown) => {
            usersFault = true;
            throw error;
          }),
        );
      } catch (error) {
        if (!usersFault && !(error instanceof BlobNotFoundError)) onFailure('read');
        throw error;
      }
    },
    has: counted('has', (key: string) => driver.has(key)),
    stat: counted('stat', (key: string) => driver.stat(key)),
    put: counted('put', (key: string, data: Buffer, options?: Parameters<D['put']>[2]) =>
      driver.put(key, data, options),
    ),
    touch: counted('touch', (key: string) => driver.touch(key)),
    flush: counted('flush', (keys?: readonly string[]) => driver.flush(keys)),
    delete: counted('delete', (key: string) => driver.delete(key)),
    async *list(prefix: string) {
      try {
        yield* driver.list(prefix);
      } catch (error) {
        onFailure('list');
        throw error;
      }
    },
  };
}
