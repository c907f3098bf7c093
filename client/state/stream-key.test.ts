import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { hashStreamKey } from '../../protocol/job.ts'
import { createStreamKey, hashKey, STREAM_KEY_LENGTH } from './stream-key.ts'

describe('stream key', () => {
  it('is 32 characters node-media-server accepts, different each time', () => {
    const a = createStreamKey()
    expect(a).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(a.length).toBe(STREAM_KEY_LENGTH)
    expect(createStreamKey()).not.toBe(a)
  })

  it('invariant: the Web Crypto hash equals the hash ingest computes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (bytes) => {
        const key = createStreamKey((b) => (b.set(bytes), b))
        expect(await hashKey(key)).toBe(hashStreamKey(key))
      }),
      { numRuns: 200 },
    )
  })
})
