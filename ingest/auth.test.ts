import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hashStreamKey } from '../protocol/job.ts'
import { getPrefix } from '../protocol/reasons.ts'
import { ALREADY_PUBLISHING, UNKNOWN_KEY, createKeyRegistry, keyFingerprint } from './auth.ts'

const arbKey = fc.stringMatching(/^[A-Za-z0-9_-]{1,48}$/)

describe('key registry', () => {
  it('admits a key exactly when an active job holds its hash', () => {
    fc.assert(
      fc.property(fc.uniqueArray(arbKey, { minLength: 1, maxLength: 8 }), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (keys, active) => {
        const registry = createKeyRegistry()
        keys.forEach((key, i) => active[i] && registry.put({ jobId: `job-${i}`, keyHash: hashStreamKey(key) }))
        keys.forEach((key, i) => {
          const verdict = registry.authorize(key)
          if (active[i]) expect(verdict).toEqual({ jobId: `job-${i}` })
          else expect(verdict).toBe(UNKNOWN_KEY)
        })
      }),
      { numRuns: 1000 },
    )
  })

  it('refuses a second concurrent publish for a job until the first is released', () => {
    const registry = createKeyRegistry()
    registry.put({ jobId: 'j', keyHash: hashStreamKey('key-1') })
    expect(registry.authorize('key-1')).toEqual({ jobId: 'j' })
    expect(registry.isPublishing('j')).toBe(true)
    expect(registry.authorize('key-1')).toBe(ALREADY_PUBLISHING)
    registry.release('j')
    expect(registry.authorize('key-1')).toEqual({ jobId: 'j' })
  })

  it('stops the old key on rotation and every key on removal', () => {
    const registry = createKeyRegistry()
    registry.put({ jobId: 'j', keyHash: hashStreamKey('old') })
    registry.put({ jobId: 'j', keyHash: hashStreamKey('new') })
    expect(registry.size).toBe(1)
    expect(registry.authorize('old')).toBe(UNKNOWN_KEY)
    expect(registry.authorize('new')).toEqual({ jobId: 'j' })
    expect(registry.remove('j')).toBe(true)
    expect(registry.remove('j')).toBe(false)
    expect(registry.authorize('new')).toBe(UNKNOWN_KEY)
    expect(registry.has('j')).toBe(false)
  })

  it('gives a shared hash to the newest job', () => {
    const registry = createKeyRegistry()
    registry.put({ jobId: 'older', keyHash: hashStreamKey('same') })
    registry.put({ jobId: 'newer', keyHash: hashStreamKey('same') })
    expect(registry.authorize('same')).toEqual({ jobId: 'newer' })
  })

  it('refuses malformed hashes, with NIP-01 prefixes on every rejection', () => {
    const registry = createKeyRegistry()
    for (const bad of ['', 'abc', hashStreamKey('x').toUpperCase(), `${hashStreamKey('x')}0`]) {
      expect(getPrefix(registry.put({ jobId: 'j', keyHash: bad }) ?? '')).toBe('invalid')
    }
    expect(registry.size).toBe(0)
    expect(getPrefix(UNKNOWN_KEY)).toBe('blocked')
    expect(getPrefix(ALREADY_PUBLISHING)).toBe('blocked')
  })

  it('rejections never contain the key; the fingerprint is a short hash prefix', () => {
    fc.assert(
      fc.property(arbKey, (key) => {
        const registry = createKeyRegistry()
        registry.put({ jobId: 'j', keyHash: hashStreamKey(`${key}x`) })
        const verdict = registry.authorize(key)
        expect(typeof verdict).toBe('string')
        if (key.length >= 4) expect(verdict).not.toContain(key)
        expect(keyFingerprint(key)).toBe(hashStreamKey(key).slice(0, 8))
      }),
      { numRuns: 1000 },
    )
  })
})
