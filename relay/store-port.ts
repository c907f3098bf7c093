import type { MemoryStore } from '../protocol/memory-store.ts'
import type { WriteResult } from '../protocol/store.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'
import type { StoredFrame } from './store/lmdb-store.ts'

export type { StoredFrame }

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
  /** The same events as bytes, `before` + JSON + `after` each (a REQ's EVENT frames), with their ids. */
  queryFrames(filters: Filter[], before: Uint8Array, after: Uint8Array): Promise<StoredFrame[]>
  query(filters: Filter[]): Promise<NostrEvent[]>
  count(filters: Filter[]): Promise<number>
  /** Removes events unconditionally (moderation). Returns the ids removed. */
  remove(ids: string[]): Promise<string[]>
  /** Deletes expired (NIP-40) events. */
  sweepExpired(): Promise<unknown>
  close(): Promise<void>
}

const utf8 = new TextEncoder()

export function adaptMemoryStore(store: MemoryStore): RelayStore {
  return {
    async eventBatch(events) {
      const results: WriteResult[] = []
      for (const event of events) results.push(await store.event(event))
      return results
    },
    queryRaw: async (filters) => (await store.query(filters)).map((e) => JSON.stringify(e)),
    queryFrames: async (filters, before, after) =>
      (await store.query(filters)).map((e) => {
        const json = utf8.encode(JSON.stringify(e))
        const frame = new Uint8Array(before.length + json.length + after.length)
        frame.set(before)
        frame.set(json, before.length)
        frame.set(after, before.length + json.length)
        return { id: e.id, frame }
      }),
    query: (filters) => store.query(filters),
    count: (filters) => store.count(filters),
    remove: (ids) => store.remove(ids),
    // The memory store drops expired events on every operation by itself.
    sweepExpired: async () => 0,
    close: async () => undefined,
  }
}
