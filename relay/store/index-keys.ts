import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { getDeletionTargets } from '../../protocol/deletion.ts'
import { getExpiration } from '../../protocol/expiration.ts'
import { KIND_DELETION, KIND_LIVE_EVENT, KIND_SERVICE_METRICS } from '../../protocol/kinds.ts'
import { getAddress } from '../../protocol/replaceable.ts'
import type { NostrEvent } from '../../protocol/types.ts'

/**
 * Every LMDB index key of an event comes from `getIndexKeys`, used by both save and delete, so
 * the two can never disagree (khatru's rule). Keys are arrays, laid out in LMDB by key-codec.ts:
 *
 *   [index, …values, inv(created_at), id, seq]            or, for an event with a NIP-40 expiration,
 *   [index, …values, inv(created_at), id, seq, expiration]
 *
 * inv(t) = -t, so a plain forward scan of one value's range yields newest first and, on a
 * created_at tie, the lowest id first: exactly protocol/filter.ts compareEvents. `seq` is where
 * the event's JSON is stored (the store writes events in arrival order, strfry's layout), so a
 * scan reads it without an id lookup. The optional trailing expiration lets a scan drop expired
 * events without reading them. Both come after the (unique) id, so they never change the order.
 * String values (tag values, addresses) go through getKeyString, so any string is safe in a key.
 */
export type IndexKey = (string | number)[]

/** The first element of every key: which index it belongs to. */
export const INDEX = {
  /** Every stored event: [c, inv, id, seq]. */
  created: 'c',
  /** [k, kind, inv, id, seq] */
  kind: 'k',
  /**
   * [ak, pubkey, kind, inv, id, seq]. Also answers authors without kinds: the planner then merges
   * the author's kinds, found by skip-scan. (Schema 3 had an author index too, 'a': one more
   * B-tree page to copy per event and author at each commit, for a query this one answers.)
   */
  authorKind: 'ak',
  /** Single-letter tags, first value: [t, letter, value, inv, id, seq]. */
  tag: 't',
  /** `status` of 30311 / 31337 only, per kind so the live-now query needs no kind check: [s, kind, value, inv, id, seq]. */
  status: 's',
  /** Replaceable / addressable slot → its current version: [r, address, inv, id, seq]. */
  address: 'r',
  /** NIP-40 sweep order: [x, expiration, id] (no suffix: the expiration is the value). */
  expiration: 'x',
  /** Tombstone of a kind 5 by `e`, only ever matching the deleter's own events: [xe, pubkey, target id, inv, deletion id, seq]. */
  deletedId: 'xe',
  /** Tombstone of a kind 5 by `a`, own addresses only: [xa, address, deletion created_at, deletion id]. */
  deletedAddress: 'xa',
} as const

/** Kinds whose `status` tag is indexed (the `#status` live-now query). */
export const STATUS_KINDS: readonly number[] = [KIND_LIVE_EVENT, KIND_SERVICE_METRICS]
export const STATUS_TAG = 'status'

const SINGLE_LETTER = /^[a-zA-Z]$/

/** Whether tag `name` is in the single-letter tag index (every kind). */
export const isIndexedTagName = (name: string): boolean => SINGLE_LETTER.test(name)

/** -t, never -0 (one key for one instant). */
export const invertTime = (t: number): number => 0 - t

/** Longer strings are indexed by hash, which keeps keys well under LMDB's 1978-byte limit. */
const MAX_KEY_STRING = 256
/** Marks a hashed value; values that start with it are hashed too, so the two never mix. */
const HASHED = '\x01'
/** UTF-8 (the key codec's text form) cannot carry these; their hash can. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const HASH_HEX = 62

/**
 * A string as it appears inside a key: itself when it is not too long and is well-formed
 * UTF-16; otherwise HASHED + 62 hex digits of the sha256 of its UTF-16 code units (injective,
 * unlike UTF-8 of a lone surrogate). Exact either way, so an index lookup by a long or odd tag
 * value or address still finds exactly its events.
 */
export function getKeyString(value: string): string {
  if (value[0] !== HASHED && value.length <= MAX_KEY_STRING && !LONE_SURROGATE.test(value)) return value
  const units = new Uint8Array(value.length * 2)
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    units[2 * i] = c >> 8
    units[2 * i + 1] = c & 0xff
  }
  return HASHED + bytesToHex(sha256(units)).slice(0, HASH_HEX)
}

/** The `a` coordinates of a deletion that can affect anything: the deleter's own (NIP-09). */
export function getOwnDeletedAddresses(del: NostrEvent): string[] {
  return getDeletionTargets(del).addresses.filter((a) => {
    const start = a.indexOf(':') + 1
    return a.slice(start, start + del.pubkey.length + 1) === `${del.pubkey}:`
  })
}

/** All index keys of an event stored at `seq`. Pure: the same event and seq always give the same keys. */
export function getIndexKeys(event: NostrEvent, seq: number): IndexKey[] {
  const { id, pubkey, kind } = event
  const inv = invertTime(event.created_at)
  const expiration = getExpiration(event)
  const suffix: IndexKey = expiration === undefined ? [inv, id, seq] : [inv, id, seq, expiration]
  const keys: IndexKey[] = [
    [INDEX.created, ...suffix],
    [INDEX.kind, kind, ...suffix],
    [INDEX.authorKind, pubkey, kind, ...suffix],
  ]

  const seen = new Set<string>()
  const withStatus = STATUS_KINDS.includes(kind)
  for (const tag of event.tags) {
    const [name, value] = tag
    if (typeof value !== 'string' || typeof name !== 'string') continue
    const isStatus = withStatus && name === STATUS_TAG
    if (!isStatus && !isIndexedTagName(name)) continue
    const dedupe = `${name}\n${value}`
    if (seen.has(dedupe)) continue
    seen.add(dedupe)
    keys.push(isStatus ? [INDEX.status, kind, getKeyString(value), ...suffix] : [INDEX.tag, name, getKeyString(value), ...suffix])
  }

  const address = getAddress(event)
  if (address !== undefined) keys.push([INDEX.address, getKeyString(address), ...suffix])
  if (expiration !== undefined) keys.push([INDEX.expiration, expiration, id])

  if (kind === KIND_DELETION) {
    for (const target of getDeletionTargets(event).ids) keys.push([INDEX.deletedId, pubkey, target, ...suffix])
    for (const a of getOwnDeletedAddresses(event)) {
      keys.push([INDEX.deletedAddress, getKeyString(a), event.created_at, id, ...(expiration === undefined ? [] : [expiration])])
    }
  }
  return keys
}
