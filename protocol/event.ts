/** NIP-01 events: canonical serialization, the id, shape validation and the full check. */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { invalid, type Rejection } from './reasons.ts'
import type { NostrEvent, SignatureCheck, UnsignedEvent } from './types.ts'

/** Computes an event id (lowercase hex). Injectable so a host can use a faster sha256. */
export type EventHasher = (event: UnsignedEvent) => string

/** The NIP-01 commitment `[0,pubkey,created_at,kind,tags,content]`, the exact bytes the id hashes. */
export function serializeEvent(e: UnsignedEvent): string {
  return JSON.stringify([0, e.pubkey, e.created_at, e.kind, e.tags, e.content])
}

/** sha256 of the canonical serialization, lowercase hex. */
export const getEventHash: EventHasher = (e) => bytesToHex(sha256(utf8ToBytes(serializeEvent(e))))

const HEX64 = /^[0-9a-f]{64}$/
const HEX128 = /^[0-9a-f]{128}$/
// A lone surrogate has no UTF-8 encoding: implementations disagree on its bytes, so on the id.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u
const FIELDS = new Set(['id', 'pubkey', 'created_at', 'kind', 'tags', 'content', 'sig'])
const MAX_KIND = 65535

export const isHex64 = (x: unknown): x is string => typeof x === 'string' && HEX64.test(x)
export const isHex128 = (x: unknown): x is string => typeof x === 'string' && HEX128.test(x)

const isText = (x: unknown): x is string => typeof x === 'string' && !LONE_SURROGATE.test(x)

function validateTags(tags: unknown): Rejection | undefined {
  if (!Array.isArray(tags)) return invalid('tags must be an array of arrays of strings')
  for (let i = 0; i < tags.length; i++) {
    const tag: unknown = tags[i]
    if (!Array.isArray(tag) || !tag.every(isText)) return invalid(`tags[${i}] must be an array of strings`)
  }
  return undefined
}

/**
 * Why `x` is not a NIP-01 event, or undefined if it is one. Checks types and encodings only
 * (not the id or signature); never throws on any JSON value. Unknown fields are refused: the
 * id does not cover them, so a relay must not store or forward them as part of the event.
 */
export function validateEventShape(x: unknown): Rejection | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return invalid('event must be a JSON object')
  for (const key of Object.keys(x)) {
    if (!FIELDS.has(key)) return invalid(`unknown field ${JSON.stringify(key)}`)
  }
  const e = x as Record<string, unknown>
  if (!isHex64(e.id)) return invalid('id must be 64 lowercase hex characters')
  if (!isHex64(e.pubkey)) return invalid('pubkey must be 64 lowercase hex characters')
  const createdAt = e.created_at
  if (typeof createdAt !== 'number' || !Number.isSafeInteger(createdAt) || createdAt < 0) {
    return invalid('created_at must be a non-negative safe integer')
  }
  const kind = e.kind
  if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 0 || kind > MAX_KIND) {
    return invalid(`kind must be an integer between 0 and ${MAX_KIND}`)
  }
  const tagsReason = validateTags(e.tags)
  if (tagsReason) return tagsReason
  if (typeof e.content !== 'string') return invalid('content must be a string')
  if (!isText(e.content)) return invalid('content must be valid Unicode (no lone surrogates)')
  if (!isHex128(e.sig)) return invalid('sig must be 128 lowercase hex characters')
  return undefined
}

/** Whether `x` has the shape of a NIP-01 event (id and signature not checked). Never throws. */
export function isNostrEvent(x: unknown): x is NostrEvent {
  return validateEventShape(x) === undefined
}

/**
 * The cryptographic check of a well-shaped event: the id must commit to the content, then the
 * signature must be valid for that id. The id is checked first, so a signature backend only ever
 * sees events whose id is right.
 */
export function checkEvent(e: NostrEvent, check: SignatureCheck, hash: EventHasher = getEventHash): Rejection | undefined {
  if (hash(e) !== e.id) return invalid('event id does not match its content')
  if (!check(e)) return invalid('bad signature')
  return undefined
}
