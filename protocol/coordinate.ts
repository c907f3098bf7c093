import { decode, naddrEncode } from 'nostr-tools/nip19'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { isHex64 } from './event.ts'
import { isAddressableKind, isReplaceableKind } from './kinds.ts'
import type { UnsignedEvent } from './types.ts'

/** The address of a replaceable or addressable event: `kind:pubkey:identifier` (NIP-01 `a` tag). */
export interface Coordinate {
  kind: number
  pubkey: string
  identifier: string
}

/** A coordinate that could not be read; the message says what is wrong with it. */
export class CoordinateError extends Error {
  override name = 'CoordinateError'
}

const KIND = /^(0|[1-9][0-9]{0,4})$/
const MAX_KIND = 65535
/** NIP-19 TLV values carry a one-byte length. */
const MAX_TLV_BYTES = 255

export function formatCoordinate(c: Coordinate): string {
  return `${c.kind}:${c.pubkey}:${c.identifier}`
}

/** Reads `kind:pubkey:identifier`; the identifier is everything after the second colon. */
export function parseCoordinate(s: string): Coordinate {
  const first = s.indexOf(':')
  const second = first < 0 ? -1 : s.indexOf(':', first + 1)
  if (second < 0) throw new CoordinateError(`coordinate "${clip(s)}" is not kind:pubkey:identifier`)
  const kindText = s.slice(0, first)
  const pubkey = s.slice(first + 1, second)
  if (!KIND.test(kindText) || Number(kindText) > MAX_KIND) {
    throw new CoordinateError(`coordinate kind "${clip(kindText)}" is not an integer from 0 to ${MAX_KIND}`)
  }
  if (!isHex64(pubkey)) throw new CoordinateError(`coordinate pubkey "${clip(pubkey)}" is not 64 lowercase hex characters`)
  return { kind: Number(kindText), pubkey, identifier: s.slice(second + 1) }
}

export function getCoordinate(s: string): Coordinate | undefined {
  try {
    return parseCoordinate(s)
  } catch (err) {
    if (err instanceof CoordinateError) return undefined
    throw err
  }
}

/** The address of a replaceable or addressable event; undefined for other kinds. */
export function getEventCoordinate(e: UnsignedEvent): Coordinate | undefined {
  if (isReplaceableKind(e.kind)) return { kind: e.kind, pubkey: e.pubkey, identifier: '' }
  if (!isAddressableKind(e.kind)) return undefined
  const d = e.tags.find((t) => t[0] === 'd')
  return { kind: e.kind, pubkey: e.pubkey, identifier: d?.[1] ?? '' }
}

export function sameCoordinate(a: Coordinate, b: Coordinate): boolean {
  return a.kind === b.kind && a.pubkey === b.pubkey && a.identifier === b.identifier
}

/** A NIP-19 `naddr` with relay hints (where a client should look for the event). */
export function encodeNaddr(c: Coordinate, relays: string[] = []): string {
  if (!isHex64(c.pubkey)) throw new CoordinateError(`pubkey "${clip(c.pubkey)}" is not 64 lowercase hex characters`)
  if (!Number.isInteger(c.kind) || c.kind < 0 || c.kind > MAX_KIND) throw new CoordinateError(`kind ${c.kind} is out of range`)
  // nostr-tools would silently wrap a longer value's length byte and corrupt the code.
  if (utf8ToBytes(c.identifier).length > MAX_TLV_BYTES) {
    throw new CoordinateError(`identifier is longer than ${MAX_TLV_BYTES} bytes, too long for an naddr`)
  }
  for (const relay of relays) {
    if (utf8ToBytes(relay).length > MAX_TLV_BYTES) throw new CoordinateError(`relay hint "${clip(relay)}" is longer than ${MAX_TLV_BYTES} bytes`)
  }
  try {
    return naddrEncode({ kind: c.kind, pubkey: c.pubkey, identifier: c.identifier, relays })
  } catch (err) {
    throw new CoordinateError('naddr is too long (too many relay hints?)', { cause: err })
  }
}

export interface DecodedNaddr {
  coordinate: Coordinate
  relays: string[]
}

/** Reads an `naddr1…` (also with a `nostr:` prefix). Throws CoordinateError. */
export function decodeNaddr(s: string): DecodedNaddr {
  const code = s.startsWith('nostr:') ? s.slice('nostr:'.length) : s
  if (!code.startsWith('naddr1')) throw new CoordinateError(`"${clip(code)}" is not an naddr`)
  let decoded: ReturnType<typeof decode>
  try {
    decoded = decode(code)
  } catch (err) {
    throw new CoordinateError(`"${clip(code)}" is not a valid naddr`, { cause: err })
  }
  if (decoded.type !== 'naddr') throw new CoordinateError(`"${clip(code)}" is not an naddr`)
  const { kind, pubkey, identifier, relays } = decoded.data
  if (kind > MAX_KIND) throw new CoordinateError(`naddr kind ${kind} is out of range`)
  return { coordinate: { kind, pubkey, identifier }, relays: relays ?? [] }
}

export function getNaddr(s: string): DecodedNaddr | undefined {
  try {
    return decodeNaddr(s)
  } catch (err) {
    if (err instanceof CoordinateError) return undefined
    throw err
  }
}

/** Keeps untrusted input short in error messages. */
function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}
