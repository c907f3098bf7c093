import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatCoordinate, getCoordinate } from '../protocol/coordinate.ts'
import { createHostProof } from '../protocol/host-proof.ts'
import { buildServiceMetrics } from '../protocol/metrics.ts'
import type { ServiceStatus } from '../protocol/metrics.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'
import { signAs, testPubkey, testSecretKey } from '../test/fixtures/keys.ts'
import type { TestKeyName } from '../test/fixtures/keys.ts'
import { Relay, coordOf, fetchIds, send, stream } from './live-test-kit.ts'
import { connectRaw, startTestRelay } from './test-harness.ts'
import type { TestRelay } from './test-harness.ts'

const HOST = testPubkey('host')
const LIVE: Filter = { kinds: [30311], '#status': ['live'] }

function metrics(coord: string, status: ServiceStatus, at: number, service: 'transcoder' | 'relay' = 'transcoder') {
  const coordinate = getCoordinate(coord)!
  const figures =
    service === 'transcoder'
      ? { bitrateKbps: 3000, fps: 30, width: 1280, height: 720, droppedFrames: 0, speed: 1, hlsViewers: 1, health: 'good' as const }
      : { viewers: 1, total: 1, peak: 1, chatMessages: 0 }
  return buildServiceMetrics({ coordinate, status, expiration: at + 600, service, figures } as never, at)
}

describe('live now: #status live returns only streams live now', () => {
  let t: TestRelay
  let client: Relay
  let clock = Math.floor(Date.now() / 1000)
  const T = clock
  const ids: Record<string, string> = {}

  async function publish(name: TestKeyName, template: Parameters<typeof signAs>[1]): Promise<NostrEvent> {
    const event = signAs(name, template)
    expect(await send(client, event)).toEqual({ ok: true, reason: '' })
    return event
  }

  beforeAll(async () => {
    t = await startTestRelay({}, { now: () => clock })
    client = await Relay.connect(t.url)
    // fresh: updated just now; newer/old: last updated 1 h 2 min and 2 h ago; done: ended.
    for (const [d, at, status] of [
      ['fresh', T, 'live'],
      ['newer', T - 3720, 'live'],
      ['old', T - 7200, 'live'],
      ['done', T, 'ended'],
    ] as const) {
      ids[d] = (await publish('host', stream(d, at, { status }))).id
    }
  })
  afterAll(async () => {
    client.close()
    await t.stop()
  })

  it('drops stale live streams, leaves other statuses and filters without #status alone', async () => {
    expect(await fetchIds(client, [LIVE])).toEqual([ids.fresh])
    expect(await fetchIds(client, [{ ...LIVE, authors: [HOST], '#t': ['music'] }])).toEqual([ids.fresh])
    expect(await fetchIds(client, [{ kinds: [30311], '#status': ['live', 'ended'] }])).toEqual([ids.done, ids.fresh].sort())
    expect((await fetchIds(client, [{ kinds: [30311] }])).sort()).toEqual(Object.values(ids).sort())
  })

  it('COUNT applies the same freshness rule as REQ (NIP-45)', async () => {
    const raw = await connectRaw(t.url)
    const count = async (...filters: Filter[]): Promise<unknown> => {
      const sub = `count-${Math.random()}`
      raw.send(['COUNT', sub, ...filters])
      return (await raw.next((m) => m[1] === sub))[2]
    }
    expect(await count(LIVE)).toEqual({ count: 1 })
    expect(await count({ ...LIVE, limit: 1 })).toEqual({ count: 1 })
    expect(await count({ kinds: [30311], '#status': ['live', 'ended'] })).toEqual({ count: 2 })
    // The fresh stream matched by both filters counts once; the other filter is the store's.
    expect(await count(LIVE, { kinds: [30311], authors: [HOST] })).toEqual({ count: 4 })
    expect(await count(LIVE, { ids: [ids.old] })).toEqual({ count: 2 })
    expect(await count({ kinds: [30311] })).toEqual({ count: 4 })
    raw.close()
  })

  it('a transcoder 31337 saying live revives a stale stream, and the limit counts only live ones', async () => {
    const backing = await publish('dvm', metrics(coordOf(HOST, 'old'), 'live', clock))
    // "newer" is newer than "old" but stale: a limit of 2 must still reach "old".
    expect(await fetchIds(client, [{ ...LIVE, limit: 2 }])).toEqual([ids.fresh, ids.old])
    expect(await fetchIds(client, [{ ...LIVE, limit: 1 }])).toEqual([ids.fresh])
    expect(await fetchIds(client, [{ ...LIVE, '#d': ['old', 'newer'] }])).toEqual([ids.old])
    // Other kinds in the same filter, and a filter without kinds, keep their other matches.
    // The 31337 and "fresh" share created_at T (lowest id first), "old" is older.
    expect(await fetchIds(client, [{ kinds: [30311, 31337], '#status': ['live'] }])).toEqual([...[backing.id, ids.fresh].sort(), ids.old])
    expect(new Set(await fetchIds(client, [{ '#status': ['live'], limit: 3 }]))).toEqual(new Set([backing.id, ids.fresh, ids.old]))
    // Several filters: each answered on its own, merged without duplicates.
    expect(await fetchIds(client, [LIVE, { ids: [ids.newer] }])).toEqual([ids.fresh, ids.newer, ids.old])
  })

  it('neither the relay’s own 31337 nor one signed by the stream’s author keeps a stream live', async () => {
    const coord = coordOf(HOST, 'newer')
    const own = await t.relay.api.sign(metrics(coord, 'live', clock, 'relay'))
    expect(await t.relay.api.publish(own)).toMatchObject({ ok: true, stored: true })
    await publish('host', metrics(coord, 'live', clock))
    expect(await fetchIds(client, [LIVE])).not.toContain(ids.newer)
  })

  it('streams go stale when time passes, a service backs them again, and its `ended` withdraws that', async () => {
    clock = T + 7201
    expect(await fetchIds(client, [LIVE])).toEqual([])
    await publish('dvm', metrics(coordOf(HOST, 'fresh'), 'live', clock))
    expect(await fetchIds(client, [LIVE])).toEqual([ids.fresh])
    clock += 121
    expect(await fetchIds(client, [LIVE])).toEqual([])
    await publish('dvm', metrics(coordOf(HOST, 'fresh'), 'live', clock))
    expect(await fetchIds(client, [LIVE])).toEqual([ids.fresh])
    await publish('dvm', metrics(coordOf(HOST, 'fresh'), 'ended', clock + 1))
    expect(await fetchIds(client, [LIVE])).toEqual([])
    // The author's own update makes it fresh again.
    const renewed = await publish('host', stream('fresh', clock))
    expect(await fetchIds(client, [LIVE])).toEqual([renewed.id])
  })
})

describe('live now across a restart (LMDB)', () => {
  it('rebuilds the service backing from the store', async () => {
    let clock = Math.floor(Date.now() / 1000)
    const first = await startTestRelay({}, { lmdb: true, now: () => clock })
    let client = await Relay.connect(first.url)
    const old = signAs('host', stream('replay', clock - 7200))
    expect((await send(client, old)).ok).toBe(true)
    expect((await send(client, signAs('dvm', metrics(coordOf(HOST, 'replay'), 'live', clock)))).ok).toBe(true)
    client.close()
    await first.relay.close()

    clock += 60
    const second = await startTestRelay({ dataDir: first.dataDir }, { lmdb: true, now: () => clock })
    client = await Relay.connect(second.url)
    expect(await fetchIds(client, [LIVE])).toEqual([old.id])
    clock += 61
    expect(await fetchIds(client, [LIVE])).toEqual([])
    client.close()
    await second.stop()
  })
})

describe('30311 checks on write', () => {
  let t: TestRelay
  let client: Relay
  const now = Math.floor(Date.now() / 1000)
  beforeAll(async () => {
    t = await startTestRelay()
    client = await Relay.connect(t.url)
  })
  afterAll(async () => {
    client.close()
    await t.stop()
  })

  it('refuses what validateLiveEvent refuses, with its reason', async () => {
    const paused = signAs('host', { ...stream('p', now), tags: [['d', 'p'], ['status', 'paused']] })
    expect(await send(client, paused)).toEqual({ ok: false, reason: 'invalid: live event status must be planned, live or ended, not "paused"' })
    const noD = signAs('host', { ...stream('x', now), tags: [['status', 'live']] })
    expect((await send(client, noD)).reason).toMatch(/^invalid: live event needs a non-empty d tag/)
  })

  it('accepts a host proof that verifies and refuses one that does not', async () => {
    const coordinate = { kind: 30311, pubkey: HOST, identifier: 'duo' }
    const cohost = testPubkey('moderator')
    const good = createHostProof(coordinate, testSecretKey('moderator'))
    const elsewhere = createHostProof({ ...coordinate, identifier: 'other' }, testSecretKey('moderator'))
    const withProof = (proof: string) => signAs('host', stream('duo', now, { hosts: [{ pubkey: cohost, role: 'Host', proof }] }))
    expect(await send(client, withProof(good))).toEqual({ ok: true, reason: '' })
    for (const bad of [elsewhere, 'ab'.repeat(64), 'not hex']) {
      expect(await send(client, withProof(bad))).toEqual({ ok: false, reason: `invalid: host proof for ${cohost} does not verify` })
    }
    // A p tag without a proof names a participant; nothing to check.
    expect((await send(client, signAs('host', stream('named', now, { hosts: [{ pubkey: cohost, role: 'Guest' }] })))).ok).toBe(true)
    expect(formatCoordinate(coordinate)).toBe(coordOf(HOST, 'duo'))
  })

  it('advertises live now, viewer counts and chat rules in NIP-11', async () => {
    const res = await fetch(`http://127.0.0.1:${t.port}/`, { headers: { accept: 'application/nostr+json' } })
    const info = await res.json()
    expect(info.supported_nips).toContain(53)
    expect(info.relaycast).toMatchObject({
      live_now: { freshness_seconds: 3600, service_window_seconds: 120 },
      viewer_counts: { interval_seconds: 5, presence_window_seconds: 300 },
      chat_rules: { slow_mode: { burst: 3, seconds_per_message: 2 } },
    })
  })
})
