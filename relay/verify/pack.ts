import type { NostrEvent } from '../../protocol/types.ts'

/** What the native addon reads per event: sig (64 bytes) | id, the signed message (32) | pubkey (32). */
export const TRIPLE = 128

/** 0–15 by char code for '0'–'9' and 'a'–'f'; 0xff for every other code below 128. */
const NIBBLE = new Uint8Array(128).fill(0xff)
for (let i = 0; i < 16; i++) NIBBLE['0123456789abcdef'.charCodeAt(i)] = i

/** Decodes exactly `bytes` bytes of lowercase hex into `buf` at `at`; false for anything else. */
function decodeHex(hex: unknown, bytes: number, buf: Uint8Array, at: number): boolean {
  if (typeof hex !== 'string' || hex.length !== 2 * bytes) return false
  for (let i = 0; i < bytes; i++) {
    const a = hex.charCodeAt(2 * i)
    const b = hex.charCodeAt(2 * i + 1)
    if ((a | b) > 127) return false
    const hi = NIBBLE[a]
    const lo = NIBBLE[b]
    if ((hi | lo) > 15) return false
    buf[at + i] = (hi << 4) | lo
  }
  return true
}

/**
 * Writes one event's sig, id and pubkey into `buf` at `at`, checking on the way that each is
 * lowercase hex of its length (backends refuse anything else: hasWellFormedSignature). One pass
 * by hand: 1.4 µs per event here, against 2.9 µs for three regex tests and three
 * Buffer.write(…, 'hex') calls, on the relay's busiest thread. Returns false, with `buf` partly
 * written, for an event that is not well-formed.
 */
export function packTriple(e: NostrEvent, buf: Uint8Array, at: number): boolean {
  return decodeHex(e.sig, 64, buf, at) && decodeHex(e.id, 32, buf, at + 64) && decodeHex(e.pubkey, 32, buf, at + 96)
}
