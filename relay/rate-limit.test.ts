import { describe, expect, it } from 'vitest'
import { KIND_TEXT_NOTE } from '../protocol/kinds.ts'
import { signAs } from '../test/fixtures/keys.ts'
import { createRateLimiter } from './rate-limit.ts'
import { connectRaw, isVerb, startTestRelay } from './test-harness.ts'

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

describe("rate limits and the relay's own local connections", () => {
  it('a socket is throttled per IP and pubkey; connectLocal (sync) is not', async () => {
    const t = await startTestRelay({ ipEventsPerSecond: 1, ipEventBurst: 1, pubkeyEventsPerSecond: 1, pubkeyEventBurst: 1 })
    try {
      const at = Math.floor(Date.now() / 1000)
      const note = (n: number) => signAs('alice', { kind: KIND_TEXT_NOTE, created_at: at, tags: [], content: `note ${n}` })
      const socket = await connectRaw(t.url)
      const first = note(1)
      const second = note(2)
      socket.send(['EVENT', first])
      socket.send(['EVENT', second])
      expect((await socket.next(isVerb('OK', first.id)))[2]).toBe(true)
      expect((await socket.next(isVerb('OK', second.id))).slice(2)).toEqual([false, expect.stringMatching(/^rate-limited: /)])
      socket.close()

      const answers: unknown[][] = []
      let wake: (() => void) | undefined
      const local = t.relay.api.connectLocal('sync:test', (text) => {
        answers.push(JSON.parse(text) as unknown[])
        wake?.()
      })
      const events = [3, 4, 5, 6].map(note)
      for (const e of events) local.send(JSON.stringify(['EVENT', e]))
      while (answers.filter((m) => m[0] === 'OK').length < events.length) await new Promise<void>((resolve) => (wake = resolve))
      expect(answers.filter((m) => m[0] === 'OK').map((m) => m[2])).toEqual([true, true, true, true])
      local.close()
    } finally {
      await t.stop()
    }
  })
})
