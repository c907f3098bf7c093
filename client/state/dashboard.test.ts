import { describe, expect, it } from 'vitest'
import { KIND_MUTE_LIST } from '../../protocol/kinds.ts'
import type { RelayFigures, TranscoderFigures } from '../../protocol/metrics.ts'
import { testPubkey, testSigner } from '../../test/fixtures/keys.ts'
import { createDashboard, getTimelinePoints } from './dashboard.ts'
import { createFakePool } from './fake-pool.ts'

const T = 1_750_000_000
const host = testSigner('host')
const coordinate = { kind: 30311, pubkey: testPubkey('host'), identifier: 'show' }
const relayFig = (viewers: number, total: number, peak: number): RelayFigures => ({ viewers, total, peak, chatMessages: 5 })
const health: TranscoderFigures = { bitrateKbps: 2500, fps: 30, width: 1280, height: 720, droppedFrames: 0, speed: 1, hlsViewers: 2, health: 'good' }

describe('dashboard', () => {
  it('shows viewers now, peak and total from the relay, health from the transcoder, and samples a timeline', () => {
    const d = createDashboard(createFakePool(), { coordinate, sign: async (t) => host(t), relays: () => ['ws://r'] })
    d.onMetrics({ relay: { figures: relayFig(3, 4, 3), at: T, status: 'live' } })
    d.onMetrics({ relay: { figures: relayFig(3, 4, 3), at: T, status: 'live' } }) // same sample again
    d.onMetrics({ relay: { figures: relayFig(7, 9, 6), at: T + 5, status: 'live' }, transcoder: { figures: health, at: T + 5, status: 'live' } })
    expect([d.viewersNow.value, d.peak.value, d.total.value]).toEqual([7, 7, 9])
    expect(d.health.value?.health).toBe('good')
    expect(d.timeline.value).toEqual([{ at: T, viewers: 3 }, { at: T + 5, viewers: 7 }])
    d.onMetrics({ relay: { figures: relayFig(0, 9, 7), at: T + 10, status: 'ended' } })
    expect(d.viewersNow.value).toBe(0)
    expect(d.analytics(T, T + 600, 2)).toEqual({ durationSeconds: 600, peak: 7, total: 9, chatMessages: 5, timeline: d.timeline.value })
  })

  it('mutes by adding to the host’s kind 10000, keeping what was there', async () => {
    const pool = createFakePool([host({ kind: KIND_MUTE_LIST, created_at: T, content: 'encrypted-private-items', tags: [['p', 'a'.repeat(64)], ['t', 'spoilers']] })])
    const d = createDashboard(pool, { coordinate, sign: async (t) => host(t), relays: () => ['ws://r'], now: () => T })
    const stop = d.start()
    expect(await d.mute('b'.repeat(64))).toBe(true)
    const list = pool.published[0]
    expect(list).toMatchObject({ kind: KIND_MUTE_LIST, content: 'encrypted-private-items', tags: [['p', 'a'.repeat(64)], ['t', 'spoilers'], ['p', 'b'.repeat(64)]] })
    expect(list.created_at).toBeGreaterThan(T)
    expect([...d.muted.value]).toEqual(['a'.repeat(64), 'b'.repeat(64)])
    expect(await d.unmute('a'.repeat(64))).toBe(true)
    expect([...d.muted.value]).toEqual(['b'.repeat(64)])
    stop()
  })

  it('deletes chat with a kind 5 naming only the message (never the stream address)', async () => {
    const pool = createFakePool()
    const d = createDashboard(pool, { coordinate, sign: async (t) => host(t), relays: () => ['ws://r'] })
    const msg = testSigner('bob')({ kind: 1311, created_at: T, content: 'spam', tags: [['a', `30311:${coordinate.pubkey}:show`]] })
    expect(await d.remove(msg)).toBe(true)
    expect(pool.published[0].tags).toEqual([['e', msg.id], ['k', '1311']])
    pool.refuse = () => 'error: disk full'
    expect(await d.remove(msg)).toBe(false)
    expect(d.error.value).toBe('The relay had a problem: disk full.')
  })

  it('plots the timeline inside the box', () => {
    expect(getTimelinePoints([], 300, 100)).toBe('')
    expect(getTimelinePoints([{ at: 0, viewers: 2 }], 300, 100)).toBe('0.0,0.0 300.0,0.0')
    expect(getTimelinePoints([{ at: 10, viewers: 0 }, { at: 20, viewers: 4 }], 300, 100)).toBe('0.0,100.0 300.0,0.0')
  })
})
