import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { finalizeEvent, generateSecretKey } from '../protocol/keys.ts'
import { KIND_TEXT_NOTE } from '../protocol/kinds.ts'
import { createMemoryStore } from '../protocol/memory-store.ts'
import type { EventTemplate, Filter, NostrEvent } from '../protocol/types.ts'
import { adaptMemoryStore } from './store-port.ts'
import { SyncError, syncFrom } from './sync.ts'
import { startTestRelay } from './test-harness.ts'
import type { TestRelay } from './test-harness.ts'

useWebSocketImplementation(WebSocket)

const now = (): number => Math.floor(Date.now() / 1000)
const KIND_OTHER = 30023
const users = Array.from({ length: 3 }, () => generateSecretKey())
let serial = 0
const sign = (user: number, t: Partial<EventTemplate> = {}): NostrEvent =>
  finalizeEvent({ kind: KIND_TEXT_NOTE, tags: [], content: `n${serial++}`, created_at: now() - (serial % 500), ...t }, users[user])

const ids = async (t: TestRelay, filter: Filter = {}): Promise<string[]> =>
  (await t.relay.api.store.query([filter])).map((e) => e.id).sort()

async function countOverWire(url: string, filter: Filter): Promise<number> {
  const r = await Relay.connect(url)
  try {
    return await r.count([filter] as never, {})
  } finally {
    r.close()
  }
}

describe('syncFrom: two relays end with the union of their events', () => {
  let a: TestRelay
  let b: TestRelay
  const shared = Array.from({ length: 15 }, (_, i) => sign(i % 3))
  const onlyA = Array.from({ length: 40 }, (_, i) => sign(i % 3))
  const onlyB = Array.from({ length: 33 }, (_, i) => sign(i % 3))

  beforeAll(async () => {
    a = await startTestRelay({}, { lmdb: true })
    b = await startTestRelay()
    await Promise.all([...shared, ...onlyA].map((e) => a.relay.api.publish(e)))
    await Promise.all([...shared, ...onlyB].map((e) => b.relay.api.publish(e)))
  })
  afterAll(async () => {
    await a.stop()
    await b.stop()
  })

  it('fetches what it lacks, sends what the other lacks, in batches', async () => {
    const result = await syncFrom(a.relay.api, b.url, {}, { batchSize: 7 })
    expect(result).toEqual({ needed: onlyB.length, offered: onlyA.length, received: onlyB.length, sent: onlyA.length, missing: 0, refused: [] })
    const union = [...shared, ...onlyA, ...onlyB].map((e) => e.id).sort()
    expect(await ids(a)).toEqual(union)
    expect(await ids(b)).toEqual(union)
    expect(await countOverWire(a.url, { kinds: [KIND_TEXT_NOTE] })).toBe(union.length)
    expect(await countOverWire(b.url, { kinds: [KIND_TEXT_NOTE] })).toBe(union.length)
  })

  it('a second sync finds nothing to do', async () => {
    const result = await syncFrom(a.relay.api, b.url, {})
    expect(result).toMatchObject({ needed: 0, offered: 0, received: 0, sent: 0 })
  })

  it('only the filter is synced, and push can be turned off', async () => {
    const alice = [sign(0, { kind: KIND_OTHER, tags: [['d', 'x']] }), sign(0)]
    const bob = sign(1)
    await Promise.all([...alice, bob].map((e) => b.relay.api.publish(e)))
    const mine = sign(0)
    await a.relay.api.publish(mine)
    const result = await syncFrom(a.relay.api, b.url, { kinds: [KIND_TEXT_NOTE], authors: [alice[1].pubkey] }, { push: false })
    expect(result).toMatchObject({ needed: 1, offered: 1, received: 1, sent: 0 })
    expect(await ids(a, { ids: [alice[0].id, alice[1].id, bob.id] })).toEqual([alice[1].id])
    expect(await ids(b, { ids: [mine.id] })).toEqual([])
  })

  it('logged no errors', () => {
    expect(a.errors).toEqual([])
    expect(b.errors).toEqual([])
  })
})

describe('syncFrom: what comes in takes the normal write path', () => {
  it('refuses forged events and events its policies refuse, and stores the rest', async () => {
    // The remote's store is seeded directly, so it holds what no relay would have accepted.
    const remoteStore = createMemoryStore()
    const good = sign(0)
    const forged = { ...sign(1), content: 'tampered' }
    const badSig = { ...sign(2), sig: sign(2).sig }
    const otherKind = sign(0, { kind: KIND_OTHER, tags: [['d', 'k']] })
    for (const e of [good, forged, badSig, otherKind]) await remoteStore.event(e)
    const remote = await startTestRelay({}, { store: adaptMemoryStore(remoteStore) })
    const local = await startTestRelay({ allowedKinds: [KIND_TEXT_NOTE] })

    const result = await syncFrom(local.relay.api, remote.url, {})
    expect(result.needed).toBe(4)
    expect(result.received).toBe(1)
    const reasons = Object.fromEntries(result.refused.map((r) => [r.id, `${r.by} ${r.reason}`]))
    expect(reasons).toEqual({
      [forged.id]: expect.stringMatching(/^local invalid: event id does not match/),
      [badSig.id]: expect.stringMatching(/^local invalid: bad signature/),
      [otherKind.id]: expect.stringMatching(/^local blocked: kind 30023/),
    })
    expect(await ids(local)).toEqual([good.id])
    await remote.stop()
    await local.stop()
  })

  it('the remote judges what we send with its own policies', async () => {
    const remote = await startTestRelay({ allowedKinds: [KIND_OTHER] })
    const local = await startTestRelay()
    const note = sign(0)
    await local.relay.api.publish(note)
    const result = await syncFrom(local.relay.api, remote.url, {})
    expect(result).toMatchObject({ offered: 1, sent: 0 })
    expect(result.refused).toEqual([{ id: note.id, by: 'remote', reason: expect.stringMatching(/^blocked: kind 1 /) }])
    await remote.stop()
    await local.stop()
  })
})

describe('syncFrom: failures', () => {
  let remote: TestRelay
  let local: TestRelay
  beforeAll(async () => {
    remote = await startTestRelay({ negentropyMaxRecords: 2 })
    local = await startTestRelay()
    await Promise.all([sign(0), sign(1), sign(2)].map((e) => remote.relay.api.publish(e)))
  })
  afterAll(async () => {
    await remote.stop()
    await local.stop()
  })

  it("the remote's NEG-ERR ends the sync with its reason", async () => {
    await expect(syncFrom(local.relay.api, remote.url, {})).rejects.toThrow(/refused the sync: blocked: too many records/)
  })

  it('more matching local records than the cap ends the sync with SyncError', async () => {
    const small = await startTestRelay({ negentropyMaxRecords: 1 })
    await Promise.all([sign(0), sign(1)].map((e) => small.relay.api.publish(e)))
    await expect(syncFrom(small.relay.api, remote.url, {})).rejects.toThrow(SyncError)
    await small.stop()
  })

  it('an unreachable remote, and an aborted signal', async () => {
    await expect(syncFrom(local.relay.api, 'ws://127.0.0.1:1', {})).rejects.toThrow(/could not connect/)
    await expect(syncFrom(local.relay.api, remote.url, {}, { signal: AbortSignal.abort() })).rejects.toThrow(/abort/i)
  })

  it('a relay without NIP-77 answers NEG-ERR, which ends the sync', async () => {
    const plain = await startTestRelay({}, { extensions: [] })
    await expect(syncFrom(local.relay.api, plain.url, {})).rejects.toThrow(/refused the sync: blocked: negentropy/)
    await plain.stop()
  })
})
