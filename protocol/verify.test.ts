import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { getEventHash } from './event.ts'
import { finalizeEvent, getPublicKey } from './keys.ts'
import { KIND_LIVE_CHAT } from './kinds.ts'
import type { EventTemplate, NostrEvent, SignatureCheck } from './types.ts'
import { createWasmSignatureCheck, nobleSignatureCheck, verifyEvent } from './verify.ts'

/** Properties that sign every run, 1000 runs each, with pure-JS signing: minutes on a busy 2-core box, not seconds. */
const SIGNING = { timeout: 240_000 }

const RUNS = { numRuns: 1000 }

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map(bytesToHex)
const secretKey = fc.uint8Array({ minLength: 1, maxLength: 32 }).map((seed) => sha256(seed))
const template: fc.Arbitrary<EventTemplate> = fc.record({
  kind: fc.integer({ min: 0, max: 65535 }),
  tags: fc.array(fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 4 }), { maxLength: 4 }),
  content: fc.string({ unit: 'grapheme' }),
  created_at: fc.nat(),
})
const signed = fc.tuple(template, secretKey).map(([t, sk]) => finalizeEvent(t, sk))

/** Changes the hex digit at `at` to a different one. */
const flipDigit = (s: string, at: number) => {
  const i = at % s.length
  return s.slice(0, i) + ((parseInt(s[i], 16) + 1) % 16).toString(16) + s.slice(i + 1)
}

let wasm: SignatureCheck
beforeAll(async () => {
  wasm = await createWasmSignatureCheck()
})

/** Every backend's answer, checked to be the same, then returned. */
function agreed(e: NostrEvent): boolean {
  const answer = nobleSignatureCheck(e)
  expect(wasm(e)).toBe(answer)
  return answer
}

describe('signature backends agree (noble, wasm)', SIGNING, () => {
  it('valid signatures are accepted by every backend', () => {
    fc.assert(
      fc.property(signed, (e) => {
        expect(agreed(e)).toBe(true)
      }),
      RUNS,
    )
  })

  it('a signature with any one hex digit changed is refused by every backend', () => {
    fc.assert(
      fc.property(signed, fc.nat(), (e, at) => {
        expect(agreed({ ...e, sig: flipDigit(e.sig, at) })).toBe(false)
      }),
      RUNS,
    )
  })

  it('another author (a real key, or any 32 bytes) is refused by every backend, id recomputed or not', () => {
    const otherPubkey = fc.oneof(secretKey.map(getPublicKey), hex(32))
    fc.assert(
      fc.property(signed, otherPubkey, (e, pubkey) => {
        fc.pre(pubkey !== e.pubkey)
        expect(agreed({ ...e, pubkey })).toBe(false)
        const moved = { ...e, pubkey }
        expect(agreed({ ...moved, id: getEventHash(moved) })).toBe(false)
      }),
      RUNS,
    )
  })

  it('tampered content: with the id recomputed the signature fails; without, it still signs that id', () => {
    fc.assert(
      fc.property(signed, fc.string({ minLength: 1 }), (e, extra) => {
        const tampered = { ...e, content: e.content + extra }
        expect(agreed({ ...tampered, id: getEventHash(tampered) })).toBe(false)
        // A check judges the signature only; the stale id is checkEvent's business.
        expect(agreed(tampered)).toBe(true)
      }),
      RUNS,
    )
  })

  it('random ids, keys and signatures get the same answer from every backend', () => {
    const random = fc.record({ id: hex(32), pubkey: hex(32), sig: hex(64), kind: fc.constant(KIND_LIVE_CHAT), tags: fc.constant<string[][]>([]), content: fc.string(), created_at: fc.nat() })
    fc.assert(
      fc.property(random, (e) => {
        expect(agreed(e)).toBe(false)
      }),
      RUNS,
    )
  })

  it('malformed hex is refused, never thrown on', () => {
    const e = fc.sample(signed, { numRuns: 1, seed: 7 })[0]
    const malformed: Partial<NostrEvent>[] = [
      { sig: e.sig.toUpperCase() },
      { sig: e.sig.slice(2) },
      { pubkey: e.pubkey.toUpperCase() },
      { pubkey: 'zz' + e.pubkey.slice(2) },
      { id: e.id.slice(1) + 'g' },
      { id: undefined as unknown as string },
      { sig: 7 as unknown as string },
    ]
    expect(agreed(e)).toBe(true)
    for (const change of malformed) expect(agreed({ ...e, ...change })).toBe(false)
  })
})

describe('verifyEvent', SIGNING, () => {
  it('accepts genuine events and refuses anything changed, whatever the backend', () => {
    fc.assert(
      fc.property(signed, fc.nat(), fc.constantFrom('content', 'sig', 'id', 'shape'), (e, at, what) => {
        expect(verifyEvent(e, nobleSignatureCheck)).toBe(true)
        expect(verifyEvent(e, wasm)).toBe(true)
        const changed =
          what === 'content' ? { ...e, content: e.content + '.' }
          : what === 'sig' ? { ...e, sig: flipDigit(e.sig, at) }
          : what === 'id' ? { ...e, id: flipDigit(e.id, at) }
          : { ...e, kind: String(e.kind) }
        expect(verifyEvent(changed, nobleSignatureCheck)).toBe(false)
        expect(verifyEvent(changed, wasm)).toBe(false)
      }),
      RUNS,
    )
  })

  it('refuses non-events without throwing', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (x) => {
        expect(verifyEvent(x, nobleSignatureCheck)).toBe(false)
      }),
      RUNS,
    )
  })
})
