import { getDeletionTargets, isDeletedBy } from './deletion.ts'
import { getExpiration } from './expiration.ts'
import { compareEvents, matchFilter, matchFilters } from './filter.ts'
import { KIND_DELETION, isEphemeralKind } from './kinds.ts'
import { blocked, duplicate, invalid } from './reasons.ts'
import { getAddress, isNewerVersion } from './replaceable.ts'
import type { LiveStore, ReqMessage, StoreOptions, WriteResult } from './store.ts'
import type { Clock, Filter, NostrEvent } from './types.ts'

/**
 * The reference Store: plain maps, every rule in one place, O(n) queries. It is the oracle the
 * relay's LMDB store is tested against and the client's cache, so it favours obvious over fast.
 *
 * Choices the interface leaves open (the conformance suite in test/store-suite.ts pins them):
 * - A write is checked in this order, first failure wins: expired → "invalid: event has expired";
 *   ephemeral → accepted, not stored, delivered live; same id stored → "duplicate: already have
 *   this event" (ok); deleted by a stored deletion → "blocked: deleted by its author"; an equal or
 *   newer version at its address → "duplicate: have a newer version of this replaceable event".
 *   Accepted events that are stored have reason ''.
 * - An expired event is gone: dropped before every operation, never returned, counted, or
 *   allowed to block (an older version, or a deletion's target). A block lasts only while the
 *   deletion that causes it is stored (not expired, not `remove`d).
 * - `req` delivers what is stored when iteration starts, then EOSE, then every later accepted
 *   write that matches (ephemeral included; duplicates and rejections not). Filter limits apply
 *   to the stored part only.
 * - Events are kept by reference: treat what goes in and comes out as immutable.
 */
export interface MemoryStore extends LiveStore {
  /** Removes these events unconditionally (moderation); no tombstone. Returns the ids removed. */
  remove(ids: string[], opts?: StoreOptions): Promise<string[]>
  /** Events held now (expired ones excluded). */
  size(): number
  /** Live `req` subscriptions now open; 0 once every one has ended. */
  listenerCount(): number
}

const EXPIRED = invalid('event has expired')
const DUPLICATE = duplicate('already have this event')
const DELETED = blocked('deleted by its author')
const OLDER_VERSION = duplicate('have a newer version of this replaceable event')

type Listener = (event: NostrEvent) => void

export function createMemoryStore(opts: { now?: Clock } = {}): MemoryStore {
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000))
  const byId = new Map<string, NostrEvent>()
  const byAddress = new Map<string, NostrEvent>()
  /** Stored kind-5 events by author: NIP-09 only lets authors delete their own events. */
  const deletionsByAuthor = new Map<string, Set<NostrEvent>>()
  /** Stored events with an expiration, so sweeping does not scan everything. */
  const expiring = new Map<string, number>()
  const listeners = new Set<Listener>()

  function add(event: NostrEvent): void {
    byId.set(event.id, event)
    const address = getAddress(event)
    if (address !== undefined) byAddress.set(address, event)
    if (event.kind === KIND_DELETION) {
      let set = deletionsByAuthor.get(event.pubkey)
      if (!set) deletionsByAuthor.set(event.pubkey, (set = new Set()))
      set.add(event)
    }
    const expiration = getExpiration(event)
    if (expiration !== undefined) expiring.set(event.id, expiration)
  }

  function drop(id: string): boolean {
    const event = byId.get(id)
    if (!event) return false
    byId.delete(id)
    const address = getAddress(event)
    if (address !== undefined && byAddress.get(address) === event) byAddress.delete(address)
    const set = deletionsByAuthor.get(event.pubkey)
    if (set?.delete(event) && set.size === 0) deletionsByAuthor.delete(event.pubkey)
    expiring.delete(id)
    return true
  }

  function sweep(): void {
    const t = now()
    for (const [id, expiration] of expiring) if (expiration <= t) drop(id)
  }

  function isBlocked(event: NostrEvent): boolean {
    for (const del of deletionsByAuthor.get(event.pubkey) ?? []) if (isDeletedBy(event, del)) return true
    return false
  }

  /** Every check and change of one write, synchronously, so no other write can interleave. */
  function write(event: NostrEvent): WriteResult {
    sweep()
    const expiration = getExpiration(event)
    if (expiration !== undefined && expiration <= now()) return { ok: false, reason: EXPIRED }
    if (isEphemeralKind(event.kind)) {
      publish(event)
      return { ok: true, stored: false, reason: '', removed: [] }
    }
    if (byId.has(event.id)) return { ok: true, stored: false, reason: DUPLICATE, removed: [] }
    if (isBlocked(event)) return { ok: false, reason: DELETED }

    const removed: string[] = []
    const address = getAddress(event)
    const current = address === undefined ? undefined : byAddress.get(address)
    if (current) {
      if (!isNewerVersion(event, current)) return { ok: false, reason: OLDER_VERSION }
      drop(current.id)
      removed.push(current.id)
    }
    if (event.kind === KIND_DELETION) {
      const { ids, addresses } = getDeletionTargets(event)
      const targets = [...ids.map((id) => byId.get(id)), ...addresses.map((a) => byAddress.get(a))]
      for (const target of targets) {
        if (target && isDeletedBy(target, event) && drop(target.id)) removed.push(target.id)
      }
    }
    add(event)
    publish(event)
    return { ok: true, stored: true, reason: '', removed }
  }

  function publish(event: NostrEvent): void {
    for (const listener of [...listeners]) listener(event)
  }

  function select(filters: Filter[], useLimits: boolean): NostrEvent[] {
    sweep()
    const all = [...byId.values()].sort(compareEvents)
    const picked = new Map<string, NostrEvent>()
    for (const filter of filters) {
      let matches = all.filter((e) => matchFilter(filter, e))
      if (useLimits && filter.limit !== undefined) matches = matches.slice(0, Math.max(0, filter.limit))
      for (const e of matches) picked.set(e.id, e)
    }
    return [...picked.values()].sort(compareEvents)
  }

  async function* req(filters: Filter[], opts: StoreOptions = {}): AsyncGenerator<ReqMessage> {
    const { signal } = opts
    if (signal?.aborted) return
    // Snapshot and listener are taken in one synchronous step: no write can fall between them.
    const queue: NostrEvent[] = []
    let wake: (() => void) | undefined
    const onEvent: Listener = (event) => {
      if (!matchFilters(filters, event)) return
      queue.push(event)
      wake?.()
    }
    // Aborting unsubscribes at once, even if the consumer never pulls again.
    const onAbort = () => {
      listeners.delete(onEvent)
      queue.length = 0
      wake?.()
    }
    const stored = select(filters, true)
    listeners.add(onEvent)
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      for (const event of stored) {
        if (signal?.aborted) return
        yield ['EVENT', event]
      }
      if (signal?.aborted) return
      yield ['EOSE']
      while (!signal?.aborted) {
        const event = queue.shift()
        if (event) {
          yield ['EVENT', event]
          continue
        }
        await new Promise<void>((resolve) => (wake = resolve))
        wake = undefined
      }
    } finally {
      listeners.delete(onEvent)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  return {
    async event(event, opts) {
      opts?.signal?.throwIfAborted()
      return write(event)
    },
    async query(filters, opts) {
      opts?.signal?.throwIfAborted()
      return select(filters, true)
    },
    async count(filters, opts) {
      opts?.signal?.throwIfAborted()
      return select(filters, false).length
    },
    req,
    async remove(ids, opts) {
      opts?.signal?.throwIfAborted()
      sweep()
      return [...new Set(ids)].filter((id) => drop(id))
    },
    size() {
      sweep()
      return byId.size
    },
    listenerCount() {
      return listeners.size
    },
  }
}
