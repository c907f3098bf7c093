import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatCoordinate, parseCoordinate } from './coordinate.ts'
import type { Coordinate } from './coordinate.ts'
import { createHostProof, getProvenParticipants, verifyHostProof } from './host-proof.ts'
import { KIND_LIVE_EVENT } from './kinds.ts'
import { COHOST, COHOST_PROOF, COORD, STREAMER, STREAMER_PROOF, VIEWER, liveEvent } from '../test/fixtures/events.ts'
import { testSecretKey } from '../test/fixtures/keys.ts'

/** Properties that sign every run, 1000 runs each, with pure-JS signing: minutes on a busy 2-core box, not seconds. */
const SIGNING = { timeout: 240_000 }

const coordinate = parseCoordinate(COORD)

describe('NIP-53 host proof', SIGNING, () => {
  it('a proof made with the host key verifies for that host and coordinate', () => {
    const proof = createHostProof(coordinate, testSecretKey('alice'))
    expect(proof).toMatch(/^[0-9a-f]{128}$/)
    expect(verifyHostProof(coordinate, COHOST, proof)).toBe(true)
  })

  it('fails for another key, another coordinate, or a tampered proof', () => {
    const proof = createHostProof(coordinate, testSecretKey('alice'))
    expect(verifyHostProof(coordinate, VIEWER, proof)).toBe(false)
    expect(verifyHostProof({ ...coordinate, identifier: 'other-stream' }, COHOST, proof)).toBe(false)
    expect(verifyHostProof({ ...coordinate, pubkey: VIEWER }, COHOST, proof)).toBe(false)
    const flipped = (proof[0] === '0' ? '1' : '0') + proof.slice(1)
    expect(verifyHostProof(coordinate, COHOST, flipped)).toBe(false)
  })

  it('answers false (never throws) for malformed pubkeys and proofs', () => {
    const proof = createHostProof(coordinate, testSecretKey('alice'))
    expect(verifyHostProof(coordinate, COHOST.toUpperCase(), proof)).toBe(false)
    expect(verifyHostProof(coordinate, COHOST, proof.slice(2))).toBe(false)
    expect(verifyHostProof(coordinate, COHOST, '')).toBe(false)
    // x = 5 is not on the curve: a well-formed but impossible pubkey
    expect(verifyHostProof(coordinate, '0'.repeat(63) + '5', proof)).toBe(false)
  })

  it('signs exactly sha256 of the `kind:pubkey:d` string (the fixture proofs were made independently)', () => {
    expect(verifyHostProof(coordinate, STREAMER, STREAMER_PROOF)).toBe(true)
    expect(verifyHostProof(coordinate, COHOST, COHOST_PROOF)).toBe(true)
    expect(formatCoordinate(coordinate)).toBe(COORD)
  })

  it('invariant: a proof verifies for its own coordinate and for no other', () => {
    const hex64 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })
    const arbCoord: fc.Arbitrary<Coordinate> = fc.record({
      kind: fc.constant(KIND_LIVE_EVENT),
      pubkey: hex64,
      identifier: fc.string({ unit: 'grapheme', maxLength: 20 }),
    })
    const key = testSecretKey('alice')
    // Signing is slow in pure JS; 100 runs exercise the encoding without a 10 s test.
    fc.assert(
      fc.property(arbCoord, arbCoord, (a, b) => {
        const proof = createHostProof(a, key)
        expect(verifyHostProof(a, COHOST, proof)).toBe(true)
        if (formatCoordinate(a) !== formatCoordinate(b)) expect(verifyHostProof(b, COHOST, proof)).toBe(false)
      }),
      { numRuns: 1000 },
    )
  })

  it('getProvenParticipants lists the p tags whose proof verifies', () => {
    expect(getProvenParticipants(liveEvent)).toEqual([STREAMER, COHOST])
    const forged = { ...liveEvent, tags: liveEvent.tags.map((t) => (t[0] === 'p' && t[1] === COHOST ? ['p', VIEWER, '', 'Speaker', COHOST_PROOF] : t)) }
    expect(getProvenParticipants(forged)).toEqual([STREAMER])
    expect(getProvenParticipants({ ...liveEvent, kind: 1 })).toEqual([])
  })
})
