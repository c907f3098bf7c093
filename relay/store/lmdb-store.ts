import { open } from 'lmdb'
import type { Database } from 'lmdb'
import { getDeletionTargets, isDeletedBy } from '../../protocol/deletion.ts'
import { isExpired } from '../../protocol/expiration.ts'
import { KIND_DELETION, isEphemeralKind } from '../../protocol/kinds.ts'
import { blocked, duplicate, error, invalid } from '../../protocol/reasons.ts'
import { getAddress, isNewerVersion } from '../../protocol/replaceable.ts'
import type { Store, StoreOptions, WriteResult } from '../../protocol/store.ts'
import type { Clock, Filter, NostrEvent } from '../../protocol/types.ts'
import { INDEX, getIndexKeys, getKeyString, getOwnDeletedAddresses } from './index-keys.ts'
import type { IndexKey } from './index-keys.ts'
import { AFTER_NUMBERS, countFilters, getRange, runFilters } from './query-plan.ts'
import type { IndexSource } from './query-plan.ts'

/**
 * The relay's Store on LMDB. Three databases in one environment:
 *   events  id → the event's JSON in NIP-01 field order (queryRaw returns it untouched)
 *   index   every key of getIndexKeys(event) → empty; tombstones and slots are index keys too
 *   meta    the index schema version, so a build with different keys never misreads old ones
 *
 * The rules are the reference store's (protocol/memory-store.ts), checked in the same order and
 * answered with the same reasons; the differential test holds the two together. Expired events
 * are invisible from the second they expire (every read checks the clock) and physically
 * removed by sweepExpired, or earlier when a write meets them.
 */
export interface LmdbStore extends Store {
  /**
   * Writes many events in ONE transaction, in order (each sees the ones before it). Resolves
   * once the commit is durable on disk, so an OK sent after it is honest.
   */
  eventBatch(events: NostrEvent[], opts?: StoreOptions): Promise<WriteResult[]>
  /** Like query, but the stored JSON strings: the relay sends them without re-serializing. */
  queryRaw(filters: Filter[], opts?: StoreOptions): Promise<string[]>
  /** Moderation: removes these events, leaving no tombstone. Returns the ids that were stored. */
  remove(ids: string[], opts?: StoreOptions): Promise<string[]>
  /** NIP-40: deletes every event whose expiration has passed. Returns how many. */
  sweepExpired(opts?: StoreOptions): Promise<number>
  stats(): LmdbStats
  /** Deletes every event, index key and tombstone (tests; an operator's reset). */
  clear(): Promise<void>
  close(): Promise<void>
}

export interface LmdbStats {
  /** Events on disk, including expired ones not yet swept. */
  events: number
  indexKeys: number
  /** Bytes in the events' and index's B-tree pages (free pages not counted). */
  bytes: number
}

export interface LmdbStoreOptions {
  /** Directory of the LMDB environment (created if missing). */
  path: string
  /** Unix seconds; injected so expiry is testable. */
  now?: Clock
  /** Initial map size in bytes; lmdb-js grows it as the data grows. */
  mapSize?: number
  /** No fsync on commit. Tests and benchmarks only: after a crash, an OK may have been a lie. */
  noSync?: boolean
  /** Told about a write that threw (a bug or corrupt data); that event is answered `error:`. Default: console.error. */
  onError?: (err: unknown, event: NostrEvent) => void
}

const EXPIRED = invalid('event has expired')
const DUPLICATE = duplicate('already have this event')
const DELETED = blocked('deleted by its author')
const OLDER_VERSION = duplicate('have a newer version of this replaceable event')
const FAILED = error('could not store the event')

const NOT_HEX = invalid('id and pubkey must be 64 lowercase hex characters')
const HEX64 = /^[0-9a-f]{64}$/
const HEX128 = /^[0-9a-f]{128}$/

const EMPTY = new Uint8Array(0)
/** Deletes per transaction when sweeping, so a backlog never holds the write lock for long. */
const SWEEP_CHUNK = 5000
/** Bump when getIndexKeys changes: old data then needs a reindex, not a silent misread. */
const SCHEMA_VERSION = 1

/**
 * The JSON of an event, fields in NIP-01 order; nothing else an input object carried. Built by
 * concatenation, which allocates no object (1–2 µs and some GC per event less than stringifying
 * one): write() has checked that id and pubkey are hex, and the rest is checked here.
 */
function serializeEvent(e: NostrEvent): string {
  if (!Number.isSafeInteger(e.created_at) || !Number.isSafeInteger(e.kind) || !HEX128.test(e.sig)) {
    return JSON.stringify({ id: e.id, pubkey: e.pubkey, created_at: e.created_at, kind: e.kind, tags: e.tags, content: e.content, sig: e.sig })
  }
  return `{"id":"${e.id}","pubkey":"${e.pubkey}","created_at":${e.created_at},"kind":${e.kind},"tags":${JSON.stringify(e.tags)},"content":${JSON.stringify(e.content)},"sig":"${e.sig}"}`
}

export async function createLmdbStore(opts: LmdbStoreOptions): Promise<LmdbStore> {
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000))
  const env = open({
    path: opts.path,
    noSubdir: false, // a directory even when its name has a dot
    maxDbs: 4,
    ...(opts.mapSize !== undefined ? { mapSize: opts.mapSize } : {}),
    ...(opts.noSync ? { noSync: true } : {}),
  })
  const events: Database<string, string> = env.openDB({ name: 'events', encoding: 'string' })
  const index: Database<Uint8Array, IndexKey> = env.openDB({ name: 'index', encoding: 'binary' })
  const meta: Database<number, string> = env.openDB({ name: 'meta', encoding: 'ordered-binary' })
  const schema = meta.get('schema')
  if (schema === undefined) await meta.put('schema', SCHEMA_VERSION)
  else if (schema !== SCHEMA_VERSION) {
    await env.close()
    throw new Error(`LMDB store at ${opts.path} has index schema ${schema}; this build reads schema ${SCHEMA_VERSION}`)
  }
  const durable = !opts.noSync
  /**
   * Pubkeys that have stored a deletion, a superset (never shrunk): only they can have
   * tombstones, so isBlocked skips its two index reads for everyone else, which is almost every
   * event written.
   */
  const deleters = new Set<string>()
  {
    const [start, end] = getRange([INDEX.kind, KIND_DELETION], undefined, undefined)
    for (const key of index.getKeys({ start, end })) {
      const json = events.get(key[3] as string)
      if (json !== undefined) deleters.add((JSON.parse(json) as NostrEvent).pubkey)
    }
  }
  const onError = opts.onError ?? ((err: unknown, e: NostrEvent) => console.error(`lmdb store: writing event ${e.id} failed`, err))

  const source: IndexSource = {
    keys: (start, end) => index.getKeys({ start, end })[Symbol.iterator](),
    json: (id) => events.get(id),
  }

  // --- the write path: everything below runs inside one write transaction -------------------

  /** Set while LMDB is being changed: a throw then is LMDB failing, not one bad event. */
  let changing = false
  function change(fn: () => void): void {
    changing = true
    fn()
    changing = false
  }

  function load(id: string): NostrEvent | undefined {
    const json = events.get(id)
    return json === undefined ? undefined : (JSON.parse(json) as NostrEvent)
  }

  function drop(e: NostrEvent): void {
    const keys = getIndexKeys(e)
    change(() => {
      events.removeSync(e.id)
      for (const key of keys) index.removeSync(key)
    })
  }

  /** The stored event with this id, unless it has expired (then it is purged on the way). */
  function loadLive(id: string, t: number): NostrEvent | undefined {
    const e = load(id)
    if (e && isExpired(e, t)) {
      drop(e)
      return undefined
    }
    return e
  }

  /** The current version at an address; expired versions met on the way are purged. */
  function currentAt(address: string, t: number): NostrEvent | undefined {
    const [start, end] = getRange([INDEX.address, getKeyString(address)], undefined, undefined)
    const stale: string[] = []
    let current: string | undefined
    for (const key of index.getKeys({ start, end })) {
      const expiration = key[4] as number | undefined
      if (expiration !== undefined && expiration <= t) stale.push(key[3] as string)
      else {
        current = key[3] as string
        break
      }
    }
    for (const id of stale) loadLive(id, t)
    return current === undefined ? undefined : load(current)
  }

  /** Whether a stored, unexpired deletion by the event's author covers it (memory store's isBlocked). */
  function isBlocked(e: NostrEvent, t: number): boolean {
    if (e.kind === KIND_DELETION) return false // deleting a deletion has no effect
    if (!deleters.has(e.pubkey)) return false
    const live = (key: IndexKey, at: number): boolean => key[at] === undefined || (key[at] as number) > t
    // [xe, pubkey, target, inv, deletion id, expiration?]
    const [start, end] = getRange([INDEX.deletedId, e.pubkey, e.id], undefined, undefined)
    for (const key of index.getKeys({ start, end })) if (live(key, 5)) return true
    const address = getAddress(e)
    if (address === undefined) return false
    // [xa, address, deletion created_at, deletion id, expiration?]: deletions at or after e
    const a = getKeyString(address)
    for (const key of index.getKeys({ start: [INDEX.deletedAddress, a, e.created_at], end: [INDEX.deletedAddress, a, AFTER_NUMBERS] })) {
      if (live(key, 4)) return true
    }
    return false
  }

  /** One write, every rule in the reference store's order. */
  function write(e: NostrEvent): WriteResult {
    // Validated upstream; checked again because they go raw into index keys.
    if (!HEX64.test(e.id) || !HEX64.test(e.pubkey)) return { ok: false, reason: NOT_HEX }
    const t = now()
    if (isExpired(e, t)) return { ok: false, reason: EXPIRED }
    if (isEphemeralKind(e.kind)) return { ok: true, stored: false, reason: '', removed: [] }
    if (loadLive(e.id, t)) return { ok: true, stored: false, reason: DUPLICATE, removed: [] }
    if (isBlocked(e, t)) return { ok: false, reason: DELETED }

    const gone: NostrEvent[] = []
    const address = getAddress(e)
    const current = address === undefined ? undefined : currentAt(address, t)
    if (current) {
      if (!isNewerVersion(e, current)) return { ok: false, reason: OLDER_VERSION }
      gone.push(current)
    }
    if (e.kind === KIND_DELETION) {
      deleters.add(e.pubkey)
      const targets = [
        ...getDeletionTargets(e).ids.map((id) => loadLive(id, t)),
        ...getOwnDeletedAddresses(e).map((a) => currentAt(a, t)),
      ]
      for (const target of targets) {
        if (target && !gone.some((g) => g.id === target.id) && isDeletedBy(target, e)) gone.push(target)
      }
    }
    // Everything that can throw (serializing, deriving keys) before the first change: a write
    // happens whole or not at all, without the cost of a child transaction per event.
    const json = serializeEvent(e)
    const keys = getIndexKeys(e)
    const goneKeys = gone.map(getIndexKeys)
    change(() => {
      gone.forEach((g, i) => {
        events.removeSync(g.id)
        for (const key of goneKeys[i]) index.removeSync(key)
      })
      events.putSync(e.id, json)
      for (const key of keys) index.putSync(key, EMPTY)
    })
    return { ok: true, stored: true, reason: '', removed: gone.map((g) => g.id) }
  }

  /** A bad event (a bug, corrupt data) is answered `error:` alone; LMDB failing fails the batch. */
  function writeOrFail(e: NostrEvent): WriteResult {
    try {
      return write(e)
    } catch (err) {
      if (changing) {
        changing = false
        throw err
      }
      onError(err, e)
      return { ok: false, reason: FAILED }
    }
  }

  /** Runs `fn` in one write transaction and resolves after the commit is durable. */
  async function inWriteTxn<T>(fn: () => T): Promise<T> {
    const result = await env.transaction(fn)
    if (durable) await env.flushed
    return result
  }

  function sweepChunk(): number {
    // [x, expiration, id]: everything with expiration <= now
    const end = [INDEX.expiration, Math.floor(now()) + 1]
    const keys = [...index.getKeys({ start: [INDEX.expiration], end, limit: SWEEP_CHUNK })]
    for (const key of keys) {
      const e = load(key[2] as string)
      if (e) drop(e)
      else index.removeSync(key) // cannot happen while save and drop share getIndexKeys
    }
    return keys.length
  }

  async function eventBatch(batch: NostrEvent[], o?: StoreOptions): Promise<WriteResult[]> {
    o?.signal?.throwIfAborted()
    const t = now()
    // Ephemeral and expired events are answered without reading or writing: no transaction.
    if (batch.every((e) => isEphemeralKind(e.kind) || isExpired(e, t))) return batch.map(writeOrFail)
    return inWriteTxn(() => batch.map(writeOrFail))
  }

  return {
    async event(event, o) {
      return (await eventBatch([event], o))[0]
    },

    eventBatch,

    async query(filters, o) {
      o?.signal?.throwIfAborted()
      return runFilters(source, filters, now(), true).map((hit) => hit.event!)
    },

    async queryRaw(filters, o) {
      o?.signal?.throwIfAborted()
      return runFilters(source, filters, now(), false).map((hit) => hit.json)
    },

    async count(filters, o) {
      o?.signal?.throwIfAborted()
      return countFilters(source, filters, now())
    },

    async remove(ids, o) {
      o?.signal?.throwIfAborted()
      return inWriteTxn(() => {
        const t = now()
        const out: string[] = []
        for (const id of new Set(ids)) {
          const e = loadLive(id, t)
          if (!e) continue
          drop(e)
          out.push(id)
        }
        return out
      })
    },

    async sweepExpired(o) {
      let total = 0
      for (;;) {
        o?.signal?.throwIfAborted()
        const n = await inWriteTxn(sweepChunk)
        total += n
        if (n < SWEEP_CHUNK) return total
      }
    },

    stats() {
      const tree = (db: Database<string, string> | Database<Uint8Array, IndexKey>) =>
        db.getStats() as { entryCount: number; pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number }
      const e = tree(events)
      const i = tree(index)
      const pages = (t: ReturnType<typeof tree>) => t.treeBranchPageCount + t.treeLeafPageCount + t.overflowPages
      return { events: e.entryCount, indexKeys: i.entryCount, bytes: (pages(e) + pages(i)) * e.pageSize }
    },

    async clear() {
      await inWriteTxn(() => {
        events.clearSync()
        index.clearSync()
      })
    },

    async close() {
      await env.close()
    },
  }
}
