import { describe, expect, it } from 'vitest'
import { KIND_PRESENCE } from '../../protocol/kinds.ts'
import { buildServiceMetrics } from '../../protocol/metrics.ts'
import { buildLiveEvent } from '../../protocol/nip53.ts'
import { getPresenceTarget } from '../../protocol/presence.ts'
import { testPubkey, testSigner } from '../../test/fixtures/keys.ts'
import { createFakePool } from './fake-pool.ts'
import { startPresence } from './presence.ts'
import { createStreamView } from './stream.ts'

const T = 1_750_000_000
const host = testSigner('host')
const coordinate = { kind: 30311, pubkey: testPubkey('host'), identifier: 'show' }

describe('stream view (watch page)', () => {
  it('follows one stream: its newest 30311 and both services’ figures, ignoring look-alikes', () => {
    const pool = createFakePool()
    const view = createStreamView(pool, coordinate, { relays: () => ['ws://r'], now: () => T })
    const stop = view.start()
    expect(view.loading.value).toBe(false)
    expect(view.entry.value).toBeUndefined()
    pool.deliver(host(buildLiveEvent({ identifier: 'show', status: 'planned', title: 'soon' }, T - 10)))
    pool.deliver(host(buildLiveEvent({ identifier: 'other', status: 'live', title: 'not this one' }, T)))
    pool.deliver(testSigner('bob')(buildLiveEvent({ identifier: 'show', status: 'live', title: 'impostor' }, T)))
    expect(view.entry.value?.live.title).toBe('soon')
    pool.deliver(host(buildLiveEvent({ identifier: 'show', status: 'live', title: 'on air', streaming: 'https://m/x.m3u8' }, T)))
    expect(view.entry.value?.status).toBe('live')
    const service = testSigner('dvm')
    pool.deliver(
      service(
        buildServiceMetrics(
          { coordinate, service: 'transcoder', status: 'live', expiration: T + 60, figures: { bitrateKbps: 3000, fps: 30, width: 1280, height: 720, droppedFrames: 0, speed: 1, hlsViewers: 5, health: 'good' } },
          T,
        ),
      ),
    )
    pool.deliver(service(buildServiceMetrics({ coordinate, service: 'relay', status: 'live', expiration: T + 60, figures: { viewers: 8, total: 9, peak: 8, chatMessages: 0 } }, T)))
    expect(view.metrics.value.transcoder?.figures.health).toBe('good')
    expect(view.entry.value?.viewers).toBe(8)
    stop()
    expect(pool.openSubscriptions()).toBe(0)
  })
})

describe('presence', () => {
  it('announces the stream being watched at once and stops when told', async () => {
    const pool = createFakePool()
    const stop = startPresence(pool, async (t) => testSigner('bob')(t), coordinate, () => ['ws://r'], 60_000)
    await new Promise((r) => setTimeout(r, 0))
    stop()
    expect(pool.published.map((e) => e.kind)).toEqual([KIND_PRESENCE])
    expect(getPresenceTarget(pool.published[0])).toEqual(coordinate)
  })
})
