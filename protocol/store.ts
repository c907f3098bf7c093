import type { Filter, NostrEvent } from './types.ts'

/**
 * The outcome of writing one event. `ok` is exactly what goes into the NIP-01 OK message.
 * `stored` is false for accepted events that are not kept (ephemeral, exact duplicate).
 * `removed` lists ids that this write made disappear (replaced versions, deletion targets),
 * so fan-out and caches can follow.
 */
export type WriteResult =
  | { ok: true; stored: boolean; reason: string; removed: string[] }
  | { ok: false; reason: string }

export interface StoreOptions {
  signal?: AbortSignal
}

/**
 * One small interface implemented by the relay's LMDB store, the in-memory store (test oracle,
 * client cache) and any test double, so one suite of tests covers them all.
 *
 * Semantics every implementation must share (memory-store.ts is the reference):
 * - `event` applies NIP-01 replacement (one event per replaceable address: newest created_at,
 *   tie → lowest id), NIP-09 deletion (by `e` for the same author; by `a` for the same author up
 *   to the deletion's created_at) in the same atomic step, never stores ephemeral kinds,
 *   refuses events that are expired (NIP-40) or were deleted earlier.
 * - `query` answers each filter with its newest `limit` matches (created_at descending, then id
 *   ascending), merges filters without duplicates, and returns the union in that same order.
 *   Expired events are never returned.
 * - `count` is the number of distinct events `query` would return with no limits.
 */
export interface Store {
  event(event: NostrEvent, opts?: StoreOptions): Promise<WriteResult>
  query(filters: Filter[], opts?: StoreOptions): Promise<NostrEvent[]>
  count(filters: Filter[], opts?: StoreOptions): Promise<number>
}

/** What a live subscription yields: stored events, then EOSE, then new events as they arrive. */
export type ReqMessage = ['EVENT', NostrEvent] | ['EOSE'] | ['CLOSED', string]

/** A store that can also be subscribed to (a relay, a relay pool, the memory store). */
export interface LiveStore extends Store {
  /** Ends when `opts.signal` aborts; leaves no listener behind. */
  req(filters: Filter[], opts?: StoreOptions): AsyncIterable<ReqMessage>
}
