import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { getExpiration, isExpired } from './expiration.ts'
import { KIND_LIVE_CHAT } from './kinds.ts'
import type { NostrEvent } from './types.ts'

function fake(tags: string[][]): NostrEvent {
  return { id: '1'.repeat(64), pubkey: 'a'.repeat(64), created_at: 1000, kind: KIND_LIVE_CHAT, tags, content: '', sig: '0'.repeat(128) }
}

describe('getExpiration', () => {
  it('reads the expiration tag as integer seconds', () => {
    expect(getExpiration(fake([['expiration', '1700000000']]))).toBe(1_700_000_000)
    expect(getExpiration(fake([['expiration', '0']]))).toBe(0)
  })

  it('is undefined without an expiration tag', () => {
    expect(getExpiration(fake([]))).toBeUndefined()
    expect(getExpiration(fake([['expiration']]))).toBeUndefined()
  })

  it('is undefined for a malformed value', () => {
    for (const value of ['', 'soon', '-5', '1.5', ' 12', '12 ', '1e3', '0x10', '+7', '99999999999999999999']) {
      expect(getExpiration(fake([['expiration', value]]))).toBeUndefined()
    }
  })

  it('uses the first expiration tag', () => {
    expect(getExpiration(fake([['expiration', '10'], ['expiration', '20']]))).toBe(10)
    expect(getExpiration(fake([['expiration', 'x'], ['expiration', '20']]))).toBeUndefined()
  })

  it('invariant: any non-negative safe integer reads back as itself', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(getExpiration(fake([['expiration', String(n)]]))).toBe(n)
      }),
      { numRuns: 1000 },
    )
  })
})

describe('isExpired', () => {
  it('counts the expiration second itself as expired', () => {
    const e = fake([['expiration', '100']])
    expect(isExpired(e, 99)).toBe(false)
    expect(isExpired(e, 100)).toBe(true)
    expect(isExpired(e, 101)).toBe(true)
  })

  it('never expires an event without a valid expiration', () => {
    expect(isExpired(fake([]), Number.MAX_SAFE_INTEGER)).toBe(false)
    expect(isExpired(fake([['expiration', 'yesterday']]), Number.MAX_SAFE_INTEGER)).toBe(false)
  })

  it('invariant: expired exactly when expiration <= now', () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 40 }), (expiration, now) => {
        expect(isExpired(fake([['expiration', String(expiration)]]), now)).toBe(expiration <= now)
      }),
      { numRuns: 1000 },
    )
  })
})
