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
import { idKeyEncoder, indexKeyEncoder } from './key-codec.ts'
import { AFTER_NUMBERS, countFilters, getRange, runFilters } from './query-plan.ts'
import type { Hit, IndexSource } from './query-plan.ts'

/**
 * The relay's Store on LMDB. Four databases in one environment (strfry's layout):
 *   json    seq → the event's JSON in NIP-01 field order (queryRaw returns it untouched); seq
 *           counts up, so event bodies are appended, not inserted at random pages by id
 *   ids     id (32 bytes) → seq (small entries: duplicate checks and lookups by id)
 *   index   every key of getIndexKeys(event, seq) → empty, laid out by key-codec.ts (ids and
 *           pubkeys as 32 bytes); tombstones and slots are index keys too
 *   meta    the schema version, so a build with a different layout never misreads old data
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
  /**
   * Like queryRaw, but each result as bytes, `before` + stored JSON + `after`, copied straight
   * from LMDB (no string is made): a REQ's EVENT frames, ready to send.
   */
  queryFrames(filters: Filter[], before: Uint8Array, after: Uint8Array, opts?: StoreOptions): Promise<StoredFrame[]>
  /** Moderation: removes these events, leaving no tombstone. Returns the ids that were stored. */
  remove(ids: string[], opts?: StoreOptions): Promise<string[]>
  /** NIP-40: deletes every event whose expiration has passed. Returns how many. */
  sweepExpired(opts?: StoreOptions): Promise<number>
  stats(): LmdbStats
  /** Deletes every event, index key and tombstone (tests; an operator's reset). */
  clear(): Promise<void>
  close(): Promise<void>
}

export interface StoredFrame {
  id: string
  frame: Uint8Array
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
  /** Told when an older layout is being migrated (it can take minutes on a big store). Default: console.log. */
  log?: Pick<Console, 'log'>
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
/** Frames are cut from shared chunks of at most this size (one allocation per ~100 chat events, not one each). */
const FRAME_CHUNK = 64 * 1024
/** Deletes per transaction when sweeping, so a backlog never holds the write lock for long. */
const SWEEP_CHUNK = 5000
/**
 * Bump when the layout or getIndexKeys changes, with a migration below. 1: events by id; 2: by
 * seq, with the seq in every index key (appending bodies cut commit CPU per event by about a
 * quarter in a microbenchmark: fewer random dirty pages); 3: index keys in key-codec.ts's
 * compact layout instead of ordered-binary (keys ~40% shorter); 4: no author index ('a'), which
 * the author+kind index answers (ingest: one put and one random dirty page fewer per event).
 */
const SCHEMA_VERSION = 4
/** Schema 3's author index, [a, pubkey, inv, id, seq]: removed when migrating 3 → 4. */
const RETIRED_AUTHOR_INDEX = 'a'
/** Events moved per transaction when migrating an older layout. */
const MIGRATE_CHUNK = 5000

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
    maxDbs: 6,
    ...(opts.mapSize !== undefined ? { mapSize: opts.mapSize } : {}),
    ...(opts.noSync ? { noSync: true } : {}),
  })
  const bodies: Database<string, number> = env.openDB({ name: 'json', encoding: 'string' })
  // lmdb-js takes keyEncoder but its types do not declare it (hence the variables).
  const idsOptions = { name: 'ids', encoding: 'ordered-binary', keyEncoder: idKeyEncoder } as const
  const indexOptions = { name: 'index', encoding: 'binary', keyEncoder: indexKeyEncoder } as const
  const ids: Database<number, string> = env.openDB(idsOptions)
  const index: Database<Uint8Array, IndexKey> = env.openDB(indexOptions)
  const meta: Database<number, string> = env.openDB({ name: 'meta', encoding: 'ordered-binary' })
  /** The last seq given out; the next event is stored at lastSeq + 1. */
  let lastSeq = 0
  const readLastSeq = (): number => {
    for (const key of bodies.getKeys({ reverse: true, limit: 1 })) return key
    return 0
  }
  const schema = meta.get('schema')
  if (schema === undefined) await meta.put('schema', SCHEMA_VERSION)
  else if (schema === 1) await migrateFromById()
  else if (schema === 2) await reindex()
  else if (schema === 3) await dropAuthorIndex()
  else if (schema !== SCHEMA_VERSION) {
    await env.close()
    throw new Error(`LMDB store at ${opts.path} has schema ${schema}; this build reads schema ${SCHEMA_VERSION} (and migrates 1, 2 and 3)`)
  }
  lastSeq = readLastSeq()
  const durable = !opts.noSync
  /**
   * Pubkeys that have stored a deletion, a superset (never shrunk): only they can have
   * tombstones, so isBlocked skips its two index reads for everyone else, which is almost every
   * event written.
   */
  const deleters = new Set<string>()
  {
    // [k, 5, inv, id, seq, expiration?]
    const [start, end] = getRange([INDEX.kind, KIND_DELETION], undefined, undefined)
    for (const key of index.getKeys({ start, end })) {
      const json = bodies.get(key[4] as number)
      if (json !== undefined) deleters.add((JSON.parse(json) as NostrEvent).pubkey)
    }
  }
  /**
   * Schema 1 stored events by id. Every index key derives from the events (tombstones from the
   * stored kind 5s), so moving each body to a seq and reindexing it rebuilds the store exactly.
   * Chunked; the old database goes, and the schema changes, in the last transaction, so a crash
   * part way just starts the migration again.
   */
  async function migrateFromById(): Promise<void> {
    const log = opts.log ?? console
    const started = performance.now()
    log.log(`lmdb store: migrating ${opts.path} from schema 1 to ${SCHEMA_VERSION} (event bodies by arrival, index rebuilt)…`)
    const old: Database<string, string> = env.openDB({ name: 'events', encoding: 'string' })
    await env.transaction(() => {
      bodies.clearSync()
      ids.clearSync()
      index.clearSync()
    })
    let seq = 0
    let after: string | undefined
    for (;;) {
      const chunk = [...old.getRange(after === undefined ? { limit: MIGRATE_CHUNK + 1 } : { start: after, limit: MIGRATE_CHUNK + 1 })]
        .filter(({ key }) => key !== after)
        .slice(0, MIGRATE_CHUNK)
      if (chunk.length === 0) break
      await env.transaction(() => {
        for (const { key: id, value: json } of chunk) {
          seq++
          bodies.putSync(seq, json)
          ids.putSync(id, seq)
          for (const key of getIndexKeys(JSON.parse(json) as NostrEvent, seq)) index.putSync(key, EMPTY)
        }
      })
      after = chunk[chunk.length - 1].key
    }
    await env.transaction(() => {
      old.dropSync()
      meta.putSync('schema', SCHEMA_VERSION)
    })
    await env.flushed
    log.log(`lmdb store: migrated ${seq} events in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }

  /**
   * Schema 2 had the same bodies, with ids and index keys in ordered-binary: rebuild both from
   * the bodies, in chunks. The schema changes in the last transaction, so a crash part way
   * starts the rebuild again.
   */
  async function reindex(): Promise<void> {
    const log = opts.log ?? console
    const started = performance.now()
    log.log(`lmdb store: migrating ${opts.path} from schema 2 to ${SCHEMA_VERSION} (ids and index rebuilt in the compact key layout)…`)
    await env.transaction(() => {
      ids.clearSync()
      index.clearSync()
    })
    let n = 0
    let after = 0
    for (;;) {
      const chunk = [...bodies.getRange({ start: after + 1, limit: MIGRATE_CHUNK })]
      if (chunk.length === 0) break
      await env.transaction(() => {
        for (const { key: seq, value: json } of chunk) {
          const e = JSON.parse(json) as NostrEvent
          ids.putSync(e.id, seq)
          for (const key of getIndexKeys(e, seq)) index.putSync(key, EMPTY)
        }
      })
      n += chunk.length
      after = chunk[chunk.length - 1].key
    }
    await env.transaction(() => meta.putSync('schema', SCHEMA_VERSION))
    await env.flushed
    log.log(`lmdb store: migrated ${n} events in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }

  /**
   * Schema 3 → 4 only removes the author index's keys, in chunks; the schema changes in the last
   * transaction, so a crash part way removes the rest on the next start.
   */
  async function dropAuthorIndex(): Promise<void> {
    const log = opts.log ?? console
    const started = performance.now()
    log.log(`lmdb store: migrating ${opts.path} from schema 3 to ${SCHEMA_VERSION} (author index removed: author+kind answers it)…`)
    const [start, end] = getRange([RETIRED_AUTHOR_INDEX], undefined, undefined)
    let n = 0
    for (;;) {
      const chunk = [...index.getKeys({ start, end, limit: MIGRATE_CHUNK })]
      if (chunk.length === 0) break
      await env.transaction(() => {
        for (const key of chunk) index.removeSync(key)
      })
      n += chunk.length
    }
    await env.transaction(() => meta.putSync('schema', SCHEMA_VERSION))
    await env.flushed
    log.log(`lmdb store: removed ${n} index keys in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }

  const onError = opts.onError ?? ((err: unknown, e: NostrEvent) => console.error(`lmdb store: writing event ${e.id} failed`, err))

  // A filter's ids may hold anything; stored ids are hex.
  const seqOf = (id: string): number | undefined => (HEX64.test(id) ? ids.get(id) : undefined)
  const jsonById = (id: string): string | undefined => {
    const seq = seqOf(id)
    return seq === undefined ? undefined : bodies.get(seq)
  }
  const source: IndexSource = {
    keys: (start, end) => index.getKeys({ start, end })[Symbol.iterator](),
    seqOf,
    jsonAt: (seq) => bodies.get(seq),
  }

  /** Each hit's body between `before` and `after`, copied from LMDB's page into a shared chunk. */
  function framesOf(hits: Hit[], before: Uint8Array, after: Uint8Array): StoredFrame[] {
    const out: StoredFrame[] = []
    let chunk = Buffer.allocUnsafe(0)
    let at = 0
    for (let i = 0; i < hits.length; i++) {
      const { id, seq } = hits[i]
      // lmdb-js's reused read buffer, valid only until the next read (so copied at once). Its
      // `length` property is the value's size, but the typed array is bigger: copy a view of n.
      const body = bodies.getBinaryFast(seq)
      if (body === undefined) throw new Error(`index names event ${id} at ${seq}, which is not stored`)
      const n = body.length
      const size = before.length + n + after.length
      if (at + size > chunk.length) {
        // Sized for the frames left as if each were this one, up to a chunk: a REQ for one event
        // does not hold 64 KiB.
        chunk = Buffer.allocUnsafe(Math.max(size, Math.min(FRAME_CHUNK, size * (hits.length - i))))
        at = 0
      }
      chunk.set(before, at)
      chunk.set(new Uint8Array(body.buffer, body.byteOffset, n), at + before.length)
      chunk.set(after, at + before.length + n)
      out.push({ id, frame: chunk.subarray(at, at + size) })
      at += size
    }
    return out
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
    const json = jsonById(id)
    return json === undefined ? undefined : (JSON.parse(json) as NostrEvent)
  }

  /** Removes a stored event: its body, its id entry and every index key. */
  function unstore(e: NostrEvent, seq: number, keys: IndexKey[]): void {
    bodies.removeSync(seq)
    ids.removeSync(e.id)
    for (const key of keys) index.removeSync(key)
  }

  function drop(e: NostrEvent): void {
    const seq = ids.get(e.id)
    if (seq === undefined) return
    const keys = getIndexKeys(e, seq)
    change(() => unstore(e, seq, keys))
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
    // [r, address, inv, id, seq, expiration?]
    const [start, end] = getRange([INDEX.address, getKeyString(address)], undefined, undefined)
    const stale: string[] = []
    let current: string | undefined
    for (const key of index.getKeys({ start, end })) {
      const expiration = key[5] as number | undefined
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
    // [xe, pubkey, target, inv, deletion id, seq, expiration?]
    const [start, end] = getRange([INDEX.deletedId, e.pubkey, e.id], undefined, undefined)
    for (const key of index.getKeys({ start, end })) if (live(key, 6)) return true
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
    const seq = lastSeq + 1
    const keys = getIndexKeys(e, seq)
    const goneSeqs = gone.map((g) => ids.get(g.id) as number)
    const goneKeys = gone.map((g, i) => getIndexKeys(g, goneSeqs[i]))
    change(() => {
      gone.forEach((g, i) => unstore(g, goneSeqs[i], goneKeys[i]))
      lastSeq = seq
      bodies.putSync(seq, json)
      ids.putSync(e.id, seq)
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
    const committed = env.transaction(fn)
    // `flushed` settles once every write queued before the call is on disk, so ask now, with
    // this transaction just queued: asked after the commit, it would also wait for the
    // transactions queued since (up to writeBatchesInFlight of them), a commit and a sync each.
    const flushed = durable ? new Promise<void>((resolve, reject) => void env.flushed.then(() => resolve(), reject)) : undefined
    const result = await committed
    if (flushed) await flushed
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
      return runFilters(source, filters, now(), 'event').map((hit) => hit.event!)
    },

    async queryRaw(filters, o) {
      o?.signal?.throwIfAborted()
      return runFilters(source, filters, now(), 'json').map((hit) => hit.json!)
    },

    async queryFrames(filters, before, after, o) {
      o?.signal?.throwIfAborted()
      return framesOf(runFilters(source, filters, now(), 'seq'), before, after)
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
      type Tree = { entryCount: number; pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number }
      const tree = (db: { getStats(): unknown }) => db.getStats() as Tree
      const [b, d, i] = [tree(bodies), tree(ids), tree(index)]
      const pages = (t: Tree) => t.treeBranchPageCount + t.treeLeafPageCount + t.overflowPages
      return { events: b.entryCount, indexKeys: i.entryCount, bytes: (pages(b) + pages(d) + pages(i)) * b.pageSize }
    },

    async clear() {
      await inWriteTxn(() => {
        bodies.clearSync()
        ids.clearSync()
        index.clearSync()
      })
    },

    async close() {
      await env.close()
    },
  }
}
