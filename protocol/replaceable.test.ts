import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KIND_CONTACTS, KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_METADATA, KIND_MUTE_LIST, KIND_PRESENCE } from './kinds.ts'
import { getAddress, isNewerVersion, pickWinner } from './replaceable.ts'
import type { NostrEvent } from './types.ts'

const PK = 'a'.repeat(64)
const EPHEMERAL_KIND = 20001
const hex64 = (n: number): string => n.toString(16).padStart(64, '0')

function fake(fields: Partial<NostrEvent>): NostrEvent {
  return { id: hex64(1), pubkey: PK, created_at: 1000, kind: KIND_LIVE_CHAT, tags: [], content: '', sig: '0'.repeat(128), ...fields }
}

describe('getAddress', () => {
  it('is kind:pubkey: for replaceable kinds, ignoring any d tag', () => {
    for (const kind of [KIND_METADATA, KIND_CONTACTS, KIND_MUTE_LIST, KIND_PRESENCE, 19999]) {
      expect(getAddress(fake({ kind, tags: [['d', 'x']] }))).toBe(`${kind}:${PK}:`)
    }
  })

  it('is kind:pubkey:d for addressable kinds, using the first d tag', () => {
    expect(getAddress(fake({ kind: KIND_LIVE_EVENT, tags: [['t', 'x'], ['d', 'show'], ['d', 'other']] }))).toBe(`${KIND_LIVE_EVENT}:${PK}:show`)
    expect(getAddress(fake({ kind: KIND_LIVE_EVENT, tags: [['d', 'a:b:c']] }))).toBe(`${KIND_LIVE_EVENT}:${PK}:a:b:c`)
  })

  it('uses an empty d for an addressable event without a d tag or a d value', () => {
    expect(getAddress(fake({ kind: KIND_LIVE_EVENT }))).toBe(`${KIND_LIVE_EVENT}:${PK}:`)
    expect(getAddress(fake({ kind: KIND_LIVE_EVENT, tags: [['d']] }))).toBe(`${KIND_LIVE_EVENT}:${PK}:`)
  })

  it('is undefined for regular and ephemeral kinds', () => {
    expect(getAddress(fake({ kind: KIND_LIVE_CHAT, tags: [['d', 'x']] }))).toBeUndefined()
    expect(getAddress(fake({ kind: EPHEMERAL_KIND }))).toBeUndefined()
  })
})

describe('isNewerVersion', () => {
  it('prefers the newer created_at whatever the ids', () => {
    const older = fake({ id: hex64(1), created_at: 10 })
    const newer = fake({ id: hex64(2), created_at: 11 })
    expect(isNewerVersion(newer, older)).toBe(true)
    expect(isNewerVersion(older, newer)).toBe(false)
  })

  it('prefers the lowest id on a created_at tie', () => {
    const low = fake({ id: hex64(1) })
    const high = fake({ id: hex64(2) })
    expect(isNewerVersion(low, high)).toBe(true)
    expect(isNewerVersion(high, low)).toBe(false)
  })

  it('is false for the same event', () => {
    const e = fake({})
    expect(isNewerVersion(e, e)).toBe(false)
  })
})

const arbVersions = fc.uniqueArray(
  fc.record({ id: fc.stringMatching(/^[0-9a-f]{64}$/), created_at: fc.integer({ min: 0, max: 5 }) }),
  { selector: (v) => v.id, minLength: 1, maxLength: 12 },
)

describe('pickWinner', () => {
  it('is undefined for no versions', () => {
    expect(pickWinner([])).toBeUndefined()
  })

  it('invariant: exactly one of two distinct versions is newer', () => {
    fc.assert(
      fc.property(arbVersions, (vs) => {
        const [a, b] = vs.map(fake)
        if (!b) return
        expect(isNewerVersion(a, b)).toBe(!isNewerVersion(b, a))
      }),
      { numRuns: 1000 },
    )
  })

  it('invariant: the winner is one of the versions, beats every other, and does not depend on order', () => {
    fc.assert(
      fc.property(
        arbVersions.chain((vs) => fc.tuple(fc.constant(vs.map(fake)), fc.shuffledSubarray(vs.map(fake), { minLength: vs.length }))),
        ([versions, shuffled]) => {
          const winner = pickWinner(versions)
          expect(winner && versions.includes(winner)).toBe(true)
          for (const v of versions) if (v !== winner) expect(isNewerVersion(winner!, v)).toBe(true)
          expect(pickWinner(shuffled)?.id).toBe(winner!.id)
          const maxTime = Math.max(...versions.map((v) => v.created_at))
          const lowestIdAtMax = versions.filter((v) => v.created_at === maxTime).map((v) => v.id).sort()[0]
          expect(winner!.id).toBe(lowestIdAtMax)
        },
      ),
      { numRuns: 1000 },
    )
  })
})
