import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { getCoordinate } from '../protocol/coordinate.ts'
import { KIND_AUTH, KIND_LIVE_CHAT, KIND_SERVICE_METRICS } from '../protocol/kinds.ts'
import { getServiceMetrics } from '../protocol/metrics.ts'
import type { RelayFigures } from '../protocol/metrics.ts'
import { buildPresence } from '../protocol/presence.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'
import { signAs, testPubkey } from '../test/fixtures/keys.ts'
import { Relay, chat, coordOf, send, stream, watch } from './live-test-kit.ts'
import { getWatchedCoordinates } from './presence.ts'
import { connectRaw, isVerb, startTestRelay } from './test-harness.ts'
import type { TestRelay } from './test-harness.ts'

const HOST = testPubkey('host')

/** What the relay's 31337 says: status and figures. */
const said = (e: NostrEvent) => {
  const m = getServiceMetrics(e)
  if (m?.service !== 'relay') throw new Error(`not relay metrics: ${e.content}`)
  return { status: m.status, ...m.figures }
}
const saying =
  (want: Partial<RelayFigures & { status: string }>) =>
  (e: NostrEvent): boolean =>
    Object.entries(want).every(([k, v]) => (said(e) as Record<string, unknown>)[k] === v)

describe('viewer counts published as the relay’s 31337', () => {
  let t: TestRelay
  let clock = Math.floor(Date.now() / 1000)
  const T = clock
  let host: Relay
  let metrics: ReturnType<typeof watch>
  const clients: Relay[] = []
  const connect = async (): Promise<Relay> => {
    const r = await Relay.connect(t.url)
    clients.push(r)
    return r
  }

  beforeAll(async () => {
    t = await startTestRelay({ viewerMetricsIntervalSeconds: 0.02 }, { now: () => clock })
    host = await connect()
    metrics = watch(host, [{ kinds: [KIND_SERVICE_METRICS], authors: [t.relay.api.pubkey] }])
  })
  afterAll(async () => {
    for (const c of clients) c.close()
    await t.stop()
  })

  it('counts chat subscriptions per connection or pubkey and fresh presences, and follows them', async () => {
    const coord = coordOf(HOST, 'show')
    expect((await send(host, signAs('host', stream('show', T)))).ok).toBe(true)
    const about = (want: Parameters<typeof saying>[0]) => metrics.next((e) => e.tags.some((t) => t[0] === 'd' && t[1] === coord) && saying(want)(e))
    const chatFilter: Filter = { kinds: [KIND_LIVE_CHAT, 1312, 1313], '#a': [coord], limit: 200 } // as zap.stream asks

    const v1 = await connect()
    v1.subscribe([chatFilter] as never, { onevent: () => undefined })
    const first = await about({ status: 'live', viewers: 1 })
    expect(first.pubkey).toBe(t.relay.api.pubkey)
    expect(Number(first.tags.find((t) => t[0] === 'expiration')?.[1])).toBeGreaterThan(first.created_at)

    const v2 = await connect()
    const twice = [v2.subscribe([chatFilter] as never, { onevent: () => undefined }), v2.subscribe([{ kinds: [KIND_LIVE_CHAT], '#a': [coord] }] as never, { onevent: () => undefined })]
    await about({ viewers: 2 })
    expect((await send(v1, signAs('alice', buildPresence(getCoordinate(coord)!, clock)))).ok).toBe(true)
    await about({ viewers: 3 })

    // Alice again, authenticated, with a chat subscription: the same viewer as her presence.
    const raw = await connectRaw(t.url)
    const auth = signAs('alice', { kind: KIND_AUTH, tags: [['relay', t.url], ['challenge', raw.challenge]], content: '', created_at: clock })
    raw.send(['AUTH', auth])
    expect((await raw.next(isVerb('OK', auth.id)))[2]).toBe(true)
    raw.send(['REQ', 'chat', chatFilter])
    await raw.next(isVerb('EOSE', 'chat'))
    expect((await send(v1, signAs('bob', buildPresence(getCoordinate(coord)!, clock)))).ok).toBe(true)
    await about({ viewers: 4, total: 4, peak: 4 })

    // v2 leaves (both of its subscriptions): v1, alice, bob remain.
    for (const sub of twice) sub.close()
    await about({ viewers: 3, peak: 4 })
    expect((await send(v1, signAs('bob', chat(coord, 'hi', clock)))).ok).toBe(true)
    await about({ viewers: 3, chatMessages: 1 })

    // Presences age out (alice stays through her subscription); the stream is still fresh.
    clock += 301
    await about({ status: 'live', viewers: 2, total: 4, peak: 4, chatMessages: 1 })

    raw.close()
    expect((await send(host, signAs('host', stream('show', clock, { status: 'ended' })))).ok).toBe(true)
    const ended = await about({ status: 'ended' })
    expect(said(ended)).toMatchObject({ total: 4, peak: 4, chatMessages: 1 })
    // Addressable by the coordinate: one relay 31337 per stream is kept.
    const kept = await t.relay.api.store.query([{ kinds: [KIND_SERVICE_METRICS], authors: [t.relay.api.pubkey], '#d': [coord] }])
    expect(kept.map((e) => e.id)).toEqual([ended.id])
  })

  it('a stream that goes stale is reported ended; one nobody watches gets no metrics', async () => {
    const watched = coordOf(HOST, 'fading')
    const idle = coordOf(HOST, 'idle')
    expect((await send(host, signAs('host', stream('fading', clock)))).ok).toBe(true)
    expect((await send(host, signAs('host', stream('idle', clock)))).ok).toBe(true)
    const viewer = await connect()
    viewer.subscribe([{ kinds: [KIND_LIVE_CHAT], '#a': [watched] }] as never, { onevent: () => undefined })
    const about = (want: Parameters<typeof saying>[0]) => metrics.next((e) => e.tags.some((t) => t[0] === 'd' && t[1] === watched) && saying(want)(e))
    await about({ status: 'live', viewers: 1 })
    clock += 3601
    await about({ status: 'ended', viewers: 1 })
    expect(metrics.seen.some((e) => e.tags.some((t) => t[0] === 'a' && t[1] === idle))).toBe(false)
  })
})

describe('getWatchedCoordinates', () => {
  const coord = coordOf(HOST, 's')
  it('takes #a coordinates of 30311s from filters that ask for chat', () => {
    expect(getWatchedCoordinates([{ kinds: [KIND_LIVE_CHAT], '#a': [coord, `30023:${HOST}:x`, 'junk'] }])).toEqual([coord])
    expect(getWatchedCoordinates([{ kinds: [1], '#a': [coord] }, { '#a': [coord] }])).toEqual([])
    expect(getWatchedCoordinates([{ kinds: [KIND_LIVE_CHAT], '#a': [coord] }, { kinds: [KIND_LIVE_CHAT], '#a': [coord] }])).toEqual([coord])
  })
  it('counts one subscription as a viewer of at most 10 streams', () => {
    const many = Array.from({ length: 30 }, (_, i) => coordOf(HOST, `s${i}`))
    expect(getWatchedCoordinates([{ kinds: [KIND_LIVE_CHAT], '#a': many }])).toHaveLength(10)
  })
})
