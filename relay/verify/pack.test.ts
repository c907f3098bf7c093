import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { NostrEvent } from '../../protocol/types.ts'
import { hasWellFormedSignature } from '../../protocol/verify.ts'
import { TRIPLE, packTriple } from './pack.ts'

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'))
/** A hex string, or one spoiled the ways a client gets it wrong. */
const field = (bytes: number) =>
  fc.oneof(
    { weight: 4, arbitrary: hex(bytes) },
    hex(bytes).map((h) => h.toUpperCase()),
    hex(bytes).map((h) => h.slice(1)),
    hex(bytes).map((h) => `${h}0`),
    fc.tuple(hex(bytes), fc.nat(), fc.constantFrom('g', 'G', ' ', 'é', '\u0660', '\0')).map(([h, i, c]) => {
      const at = i % h.length
      return h.slice(0, at) + c + h.slice(at + 1)
    }),
    fc.constantFrom(undefined, 7, null),
  )

describe('packTriple', () => {
  it('invariant: accepts exactly what hasWellFormedSignature accepts, and writes sig | id | pubkey as bytes', () => {
    fc.assert(
      fc.property(field(64), field(32), field(32), fc.nat(3), (sig, id, pubkey, slot) => {
        const e = { sig, id, pubkey } as unknown as NostrEvent
        const buf = Buffer.alloc(4 * TRIPLE)
        const ok = packTriple(e, buf, slot * TRIPLE)
        expect(ok).toBe(hasWellFormedSignature(e))
        if (!ok) return
        expect(buf.subarray(slot * TRIPLE, (slot + 1) * TRIPLE)).toEqual(Buffer.from(`${sig}${id}${pubkey}`, 'hex'))
        const outside = [...buf.subarray(0, slot * TRIPLE), ...buf.subarray((slot + 1) * TRIPLE)]
        expect(outside.every((b) => b === 0)).toBe(true) // nothing outside its slot
      }),
      { numRuns: 2000 },
    )
  })
})
