import { schnorr } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js'
import { formatCoordinate, getEventCoordinate } from './coordinate.ts'
import type { Coordinate } from './coordinate.ts'
import { isHex128, isHex64 } from './event.ts'
import { KIND_LIVE_EVENT } from './kinds.ts'
import type { UnsignedEvent } from './types.ts'

/**
 * NIP-53 proof of agreement to participate: the 5th value of a 30311 `p` tag is the participant's
 * BIP-340 signature over sha256 of the live event's `a` coordinate string (`30311:<author>:<d>`).
 * It lets a client show a host as agreed rather than merely named by the event's author.
 */

function proofMessage(coordinate: Coordinate): Uint8Array {
  return sha256(utf8ToBytes(formatCoordinate(coordinate)))
}

/** Made by the participant (e.g. a co-host in their own browser) and handed to the event's author. */
export function createHostProof(coordinate: Coordinate, hostSecretKey: Uint8Array): string {
  return bytesToHex(schnorr.sign(proofMessage(coordinate), hostSecretKey))
}

export function verifyHostProof(coordinate: Coordinate, hostPubkey: string, proofHex: string): boolean {
  // Checked first because noble throws (rather than answering false) on malformed lengths.
  if (!isHex64(hostPubkey) || !isHex128(proofHex)) return false
  return schnorr.verify(hexToBytes(proofHex), proofMessage(coordinate), hexToBytes(hostPubkey))
}

/** Pubkeys of the 30311's participants whose proof verifies, in tag order. */
export function getProvenParticipants(e: UnsignedEvent): string[] {
  const coordinate = e.kind === KIND_LIVE_EVENT ? getEventCoordinate(e) : undefined
  if (!coordinate) return []
  return e.tags
    .filter((t) => t[0] === 'p' && typeof t[1] === 'string' && typeof t[4] === 'string')
    .filter((t) => verifyHostProof(coordinate, t[1], t[4]))
    .map((t) => t[1])
}
