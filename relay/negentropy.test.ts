import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { finalizeEvent, generateSecretKey } from '../protocol/keys.ts'
import { KIND_METADATA, KIND_TEXT_NOTE } from '../protocol/kinds.ts'
import type { EventTemplate, NostrEvent } from '../protocol/types.ts'
import { createNegentropyExtension, getNegentropyRecord } from './negentropy.ts'
import { Negentropy, NegentropyMessageError, NegentropyResponder, NegentropyStorageVector } from './negentropy-responder.ts'
import { connectRaw, startTestRelay } from './test-harness.ts'
import type { Message, RawClient } from './test-harness.ts'

const now = (): number => Math.floor(Date.now() / 1000)
const sk = generateSecretKey()
const sign = (t: Partial<EventTemplate> = {}): NostrEvent =>
  finalizeEvent({ kind: KIND_TEXT_NOTE, tags: [], content: String(Math.random()), created_at: now(), ...t }, sk)

type Item = [created_at: number, id: string]

function storageOf(items: Iterable<Item>): InstanceType<typeof NegentropyStorageVector> {
  const s = new NegentropyStorageVector()
  for (const [t, id] of items) s.insert(t, id)
  s.seal()
  return s
}

/** Runs a whole reconciliation in memory: nostr-tools' initiator against our responder. */
function reconcileInMemory(mine: Item[], theirs: Item[], frameSize: number) {
  const client = new Negentropy(storageOf(mine), frameSize)
  const relay = new NegentropyResponder(storageOf(theirs), frameSize)
  const have = new Set<string>()
  const need = new Set<string>()
  let msg: string | null = client.initiate()
  let rounds = 0
  while (msg !== null) {
    rounds++
    const reply = relay.reconcile(msg)
    expect(reply.length / 2).toBeLessThanOrEqual(frameSize)
    msg = client.reconcile(reply, (id) => have.add(id), (id) => need.add(id))
  }
  return { have, need, rounds }
}

const hexId = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'))
/** A universe of distinct ids with clustered timestamps (many ties), split into two overlapping sets. */
const twoSets = (maxSize: number) =>
  fc
    .uniqueArray(fc.tuple(fc.integer({ min: 1_700_000_000, max: 1_700_000_040 }), hexId), { selector: (x) => x[1], maxLength: maxSize })
    .chain((universe) =>
      fc.tuple(fc.constant(universe), fc.array(fc.constantFrom('mine', 'theirs', 'both'), { minLength: universe.length, maxLength: universe.length })),
    )
    .map(([universe, sides]) => ({
      mine: universe.filter((_, i) => sides[i] !== 'theirs') as Item[],
      theirs: universe.filter((_, i) => sides[i] !== 'mine') as Item[],
    }))

describe('the negentropy responder with nostr-tools as initiator', () => {
  it('invariant: have = mine \\ theirs and need = theirs \\ mine, whatever the sets', () => {
    fc.assert(
      fc.property(twoSets(300), ({ mine, theirs }) => {
        const { have, need } = reconcileInMemory(mine, theirs, 60_000)
        const theirIds = new Set(theirs.map((x) => x[1]))
        const myIds = new Set(mine.map((x) => x[1]))
        expect([...have].sort()).toEqual(mine.map((x) => x[1]).filter((id) => !theirIds.has(id)).sort())
        expect([...need].sort()).toEqual(theirs.map((x) => x[1]).filter((id) => !myIds.has(id)).sort())
      }),
      { numRuns: 300 },
    )
  })

  it('invariant: the same with the smallest frames, which cut id lists and take several rounds', () => {
    fc.assert(
      fc.property(twoSets(1500), ({ mine, theirs }) => {
        const { have, need } = reconcileInMemory(mine, theirs, 4096)
        const theirIds = new Set(theirs.map((x) => x[1]))
        const myIds = new Set(mine.map((x) => x[1]))
        expect(have.size + need.size).toBe(mine.filter((x) => !theirIds.has(x[1])).length + theirs.filter((x) => !myIds.has(x[1])).length)
        for (const id of have) expect(theirIds.has(id)).toBe(false)
        for (const id of need) expect(myIds.has(id)).toBe(false)
      }),
      { numRuns: 30 },
    )
  })

  it('a large sync with a few differences costs little: 20k records each, 10 differ', () => {
    const shared: Item[] = Array.from({ length: 20_000 }, (_, i) => [1_700_000_000 + (i >> 3), i.toString(16).padStart(64, '0')])
    const onlyMine: Item[] = Array.from({ length: 5 }, (_, i) => [1_700_001_000 + i, `a${i}`.padEnd(64, '0')])
    const onlyTheirs: Item[] = Array.from({ length: 5 }, (_, i) => [1_700_000_500 + i, `b${i}`.padEnd(64, '0')])
    const { have, need, rounds } = reconcileInMemory([...shared, ...onlyMine], [...shared, ...onlyTheirs], 60_000)
    expect([...have].sort()).toEqual(onlyMine.map((x) => x[1]))
    expect([...need].sort()).toEqual(onlyTheirs.map((x) => x[1]))
    expect(rounds).toBeLessThanOrEqual(5)
  })

  it('refuses what is not a negentropy message, and answers an unknown version with its own', () => {
    const relay = new NegentropyResponder(storageOf([]), 60_000)
    expect(() => relay.reconcile('00')).toThrow(NegentropyMessageError)
    expect(() => relay.reconcile('6100')).toThrow(/ends prematurely/)
    expect(() => relay.reconcile('61000002ff7f')).toThrow(/ends prematurely/) // an id list claiming 16k ids
    expect(() => relay.reconcile('61000007')).toThrow(/unknown range mode 7/)
    expect(relay.reconcile('62')).toBe('61')
    expect(relay.reconcile('61')).toBe('61')
  })
})

describe('getNegentropyRecord', () => {
  it('invariant: reading in place agrees with JSON.parse, in NIP-01 field order or any other', () => {
    const event = fc.record({
      id: hexId,
      pubkey: hexId,
      created_at: fc.integer({ min: 0, max: 2 ** 40 }),
      kind: fc.integer({ min: 0, max: 65535 }),
      tags: fc.array(fc.array(fc.string(), { maxLength: 3 }), { maxLength: 3 }),
      content: fc.string(),
      sig: fc.constant('0'.repeat(128)),
    })
    fc.assert(
      fc.property(event, fc.boolean(), (e, reorder) => {
        const { id, pubkey, created_at, kind, tags, content, sig } = e
        const json = JSON.stringify(reorder ? { sig, content, tags, kind, created_at, pubkey, id } : e)
        expect(getNegentropyRecord(json)).toEqual({ created_at: e.created_at, id: e.id })
      }),
      { numRuns: 500 },
    )
  })

  it('gives undefined for text that is not an event', () => {
    for (const text of ['', 'nope', '[]', 'null', '{"id":"x","created_at":1}', `{"id":"${'a'.repeat(64)}","created_at":-1}`]) {
      expect(getNegentropyRecord(text)).toBeUndefined()
    }
  })
})

/** Drives one NIP-77 session over the wire as nostr-tools' initiator would. */
async function syncOverWire(raw: RawClient, subId: string, filter: object, mine: NostrEvent[]) {
  const neg = new Negentropy(storageOf(mine.map((e) => [e.created_at, e.id])), 60_000)
  const have = new Set<string>()
  const need = new Set<string>()
  raw.send(['NEG-OPEN', subId, filter, neg.initiate()])
  for (;;) {
    const m = await raw.next((m) => m[1] === subId && (m[0] === 'NEG-MSG' || m[0] === 'NEG-ERR'))
    if (m[0] === 'NEG-ERR') throw new Error(String(m[2]))
    const out = neg.reconcile(m[2] as string, (id) => have.add(id), (id) => need.add(id))
    if (out === null) break
    raw.send(['NEG-MSG', subId, out])
  }
  raw.send(['NEG-CLOSE', subId])
  return { have, need }
}

const negErr = (subId: string) => (m: Message) => m[0] === 'NEG-ERR' && m[1] === subId

describe('NEG-OPEN / NEG-MSG / NEG-CLOSE over the wire', () => {
  it('reconciles a client set with the stored events matching the filter', async () => {
    const t = await startTestRelay({}, { lmdb: true })
    const stored = Array.from({ length: 60 }, (_, i) => sign({ created_at: now() - i }))
    const profile = sign({ kind: KIND_METADATA })
    await Promise.all([...stored, profile].map((e) => t.relay.api.publish(e)))
    const onlyMine = Array.from({ length: 7 }, (_, i) => sign({ created_at: now() - 100 - i }))
    const raw = await connectRaw(t.url)
    const { have, need } = await syncOverWire(raw, 'n1', { kinds: [KIND_TEXT_NOTE] }, [...stored.slice(10), ...onlyMine])
    expect([...have].sort()).toEqual(onlyMine.map((e) => e.id).sort())
    expect([...need].sort()).toEqual(stored.slice(0, 10).map((e) => e.id).sort()) // not the kind-0 profile
    raw.close()
    await t.stop()
    expect(t.errors).toEqual([])
  })

  it('refuses a filter matching more than the record cap with blocked:', async () => {
    const t = await startTestRelay({ negentropyMaxRecords: 5 })
    await Promise.all(Array.from({ length: 6 }, () => t.relay.api.publish(sign())))
    const raw = await connectRaw(t.url)
    raw.send(['NEG-OPEN', 'big', {}, new Negentropy(storageOf([]), 60_000).initiate()])
    expect((await raw.next(negErr('big')))[2]).toMatch(/^blocked: too many records/)
    // A limit within the cap is answered.
    const { need } = await syncOverWire(raw, 'small', { limit: 5 }, [])
    expect(need.size).toBe(5)
    raw.close()
    await t.stop()
  })

  it('answers bad and out-of-turn messages with NEG-ERR and a NIP-01 prefix', async () => {
    const t = await startTestRelay()
    const raw = await connectRaw(t.url)
    raw.send(['NEG-MSG', 'nobody', '61'])
    expect((await raw.next(negErr('nobody')))[2]).toMatch(/^closed: /)
    raw.send(['NEG-OPEN', 'bad', {}, '00'])
    expect((await raw.next(negErr('bad')))[2]).toMatch(/^invalid: bad negentropy message/)
    raw.send(['NEG-OPEN', 'badfilter', { kinds: ['x'] }, '61'])
    expect((await raw.next(negErr('badfilter')))[2]).toMatch(/^invalid: kinds/)
    raw.send(['NEG-OPEN', 'nothex', {}, 'xyz'])
    expect((await raw.next(negErr('nothex')))[2]).toMatch(/^invalid: /)
    // After NEG-ERR the session is gone.
    raw.send(['NEG-MSG', 'bad', '61'])
    expect((await raw.next(negErr('bad')))[2]).toMatch(/^closed: /)
    raw.close()
    await t.stop()
    expect(t.errors).toEqual([])
  })

  it('caps sessions per connection, frees them on NEG-CLOSE and on disconnect, and replaces a reopened id', async () => {
    const ext = createNegentropyExtension({ negentropyMaxRecords: 1000, negentropyMaxSessions: 2 })
    const t = await startTestRelay({}, { extensions: [ext] })
    const raw = await connectRaw(t.url)
    const open = async (subId: string): Promise<Message> => {
      raw.send(['NEG-OPEN', subId, {}, '61'])
      return raw.next((m) => m[1] === subId)
    }
    expect(await open('a')).toEqual(['NEG-MSG', 'a', '61'])
    expect(await open('b')).toEqual(['NEG-MSG', 'b', '61'])
    expect(await open('b')).toEqual(['NEG-MSG', 'b', '61']) // reopening replaces
    expect(ext.sessionCount).toBe(2)
    const refused = await open('c')
    expect(refused[0]).toBe('NEG-ERR')
    expect(refused[2]).toMatch(/^rate-limited: too many negentropy sessions/)
    raw.send(['NEG-CLOSE', 'a'])
    expect(await open('c')).toEqual(['NEG-MSG', 'c', '61'])
    expect(ext.sessionCount).toBe(2)
    raw.close()
    await raw.closed
    await expect.poll(() => ext.sessionCount).toBe(0)
    await t.stop()
  })

  it('advertises NIP-77 and its limits in NIP-11', async () => {
    const t = await startTestRelay({ negentropyMaxRecords: 1234 })
    const res = await fetch(`http://127.0.0.1:${t.port}/`, { headers: { Accept: 'application/nostr+json' } })
    const info = (await res.json()) as { supported_nips: number[]; relaycast: { negentropy: { max_records: number } } }
    expect(info.supported_nips).toContain(77)
    expect(info.relaycast.negentropy.max_records).toBe(1234)
    await t.stop()
  })
})
