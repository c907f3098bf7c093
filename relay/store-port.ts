import type { MemoryStore } from '../protocol/memory-store.ts'
import type { WriteResult } from '../protocol/store.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'

/**
 * What the relay's stages need from a database: batched durable writes for the writer, raw JSON
 * for REQ (no parse/stringify round trip), counts for NIP-45. The LMDB store implements it;
 * `adaptMemoryStore` lets tests and a diskless relay run on the in-memory reference.
 */
export interface RelayStore {
  /** One transaction; resolves after the commit is durable, one result per event, in order. */
  eventBatch(events: NostrEvent[]): Promise<WriteResult[]>
  /** Stored events as JSON text, in query order (newest first); limits applied per filter. */
  queryRaw(filters: Filter[]): Promise<string[]>
  query(filters: Filter[]): Promise<NostrEvent[]>
  count(filters: Filter[]): Promise<number>
  /** Removes events unconditionally (moderation). Returns the ids removed. */
  remove(ids: string[]): Promise<string[]>
  /** Deletes expired (NIP-40) events. */
  sweepExpired(): Promise<unknown>
  close(): Promise<void>
}

export function adaptMemoryStore(store: MemoryStore): RelayStore {
  return {
    async eventBatch(events) {
      const results: WriteResult[] = []
      for (const event of events) results.push(await store.event(event))
      return results
    },
    queryRaw: async (filters) => (await store.query(filters)).map((e) => JSON.stringify(e)),
    query: (filters) => store.query(filters),
    count: (filters) => store.count(filters),
    remove: (ids) => store.remove(ids),
    // The memory store drops expired events on every operation by itself.
    sweepExpired: async () => 0,
    close: async () => undefined,
  }
}
