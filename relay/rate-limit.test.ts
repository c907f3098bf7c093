import { describe, expect, it } from 'vitest'
import { createRateLimiter } from './rate-limit.ts'

describe('rate limiter', () => {
  it('allows a burst, then refills at the rate, per key', () => {
    let t = 0
    const limiter = createRateLimiter(2, 3, () => t)
    expect([1, 2, 3, 4].map(() => limiter.take('a'))).toEqual([true, true, true, false])
    expect(limiter.take('b')).toBe(true)
    t = 499
    expect(limiter.take('a')).toBe(false)
    t = 500 // 1 token after 0.5 s at 2/s
    expect(limiter.take('a')).toBe(true)
    expect(limiter.take('a')).toBe(false)
  })

  it('forgets keys whose bucket has refilled, so memory stays bounded', () => {
    let t = 0
    const limiter = createRateLimiter(1, 1, () => t)
    for (let i = 0; i < 1000; i++) limiter.take(`ip${i}`)
    expect(limiter.size).toBe(1000)
    t = 60_000
    limiter.take('late')
    expect(limiter.size).toBe(1)
  })
})
