import { describe, expect, it } from 'vitest'
import { buildServiceMetrics } from '../../protocol/metrics.ts'
import { buildLiveEvent } from '../../protocol/nip53.ts'
import type { LiveEventInput } from '../../protocol/nip53.ts'
import { testPubkey, testSigner } from '../../test/fixtures/keys.ts'
import { createFakePool } from './fake-pool.ts'
import { createStreams } from './streams.ts'

const T = 1_750_000_000
const host = testSigner('host')
const alice = testSigner('alice')
const live = (input: Partial<LiveEventInput> & { identifier: string }, at = T, signer = host) =>
  signer(buildLiveEvent({ status: 'live', streaming: 'https://m.test/hls/x/master.m3u8', ...input }, at))

describe('streams (discover)', () => {
  it('sorts live, planned and ended streams into their sections, newest version per address', () => {
    const pool = createFakePool()
    const s = createStreams(pool, { relays: () => ['ws://r'], now: () => T + 10 })
    s.apply(live({ identifier: 'a', title: 'old title' }, T - 5))
    s.apply(live({ identifier: 'a', title: 'new title' }, T))
    s.apply(live({ identifier: 'a', title: 'older, arrives late' }, T - 100))
    s.apply(host(buildLiveEvent({ identifier: 'p', status: 'planned', starts: T + 3600 }, T)))
    s.apply(host(buildLiveEvent({ identifier: 'e', status: 'ended', recording: 'https://m.test/r.mp4' }, T)))
    s.apply(host(buildLiveEvent({ identifier: 'gone', status: 'ended' }, T)))
    expect(s.live.value.map((x) => x.live.title)).toEqual(['new title'])
    expect(s.planned.value.map((x) => x.live.identifier)).toEqual(['p'])
    expect(s.ended.value.map((x) => x.live.identifier)).toEqual(['e'])
    expect(s.live.value[0].naddr).toMatch(/^naddr1/)
  })

  it('keeps unlisted streams out and treats a stale live stream as ended', () => {
    const s = createStreams(createFakePool(), { relays: () => ['ws://r'], now: () => T })
    s.apply(live({ identifier: 'hidden', unlisted: true }))
    s.apply(live({ identifier: 'stale', recording: 'https://m.test/s.mp4' }, T - 7200))
    expect(s.live.value).toEqual([])
    expect(s.ended.value.map((x) => [x.live.identifier, x.status])).toEqual([['stale', 'ended']])
  })

  it('a service saying live keeps an old 30311 live, and its viewer count wins over current_participants', () => {
    const s = createStreams(createFakePool(), { relays: () => ['ws://r'], now: () => T })
    const ev = live({ identifier: 'a', currentParticipants: 3 }, T - 7200)
    s.apply(ev)
    expect(s.live.value).toEqual([])
    const relayKey = testSigner('moderator')
    s.apply(
      relayKey(
        buildServiceMetrics({ coordinate: { kind: 30311, pubkey: testPubkey('host'), identifier: 'a' }, service: 'relay', status: 'live', expiration: T + 60, figures: { viewers: 42, total: 50, peak: 44, chatMessages: 7 } }, T - 10),
      ),
    )
    expect(s.live.value.map((x) => x.viewers)).toEqual([42])
  })

  it('filters by category or tag, case-insensitively, and lists categories by use', () => {
    const s = createStreams(createFakePool(), { relays: () => ['ws://r'], now: () => T })
    s.apply(live({ identifier: 'a', category: 'Gaming', tags: ['speedrun'] }))
    s.apply(live({ identifier: 'b', category: 'gaming' }, T, alice))
    s.apply(live({ identifier: 'c', category: 'music' }))
    expect(s.categories.value).toEqual(['gaming', 'music'])
    s.category.value = 'speedrun'
    expect(s.live.value.map((x) => x.live.identifier)).toEqual(['a'])
    s.category.value = 'GAMING'
    expect(s.live.value.map((x) => x.live.identifier).sort()).toEqual(['a', 'b'])
    s.category.value = undefined
    expect(s.live.value.length).toBe(3)
  })

  it('subscribes while started and leaves no subscription behind', () => {
    const pool = createFakePool([live({ identifier: 'a' })])
    const s = createStreams(pool, { relays: () => ['ws://r'], now: () => T })
    const stop = s.start()
    expect(s.loading.value).toBe(false)
    expect(s.live.value.length).toBe(1)
    pool.deliver(live({ identifier: 'b' }))
    expect(s.live.value.length).toBe(2)
    stop()
    expect(pool.openSubscriptions()).toBe(0)
  })
})
