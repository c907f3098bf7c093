import { describe, expect, it } from 'vitest'
import { describeLiveStoreConformance, describeStoreConformance, fakeEvent, T0 } from '../test/store-suite.ts'
import { KIND_DELETION, KIND_LIVE_CHAT, KIND_LIVE_EVENT } from './kinds.ts'
import { createMemoryStore } from './memory-store.ts'

describeStoreConformance('memory store', async ({ now }) => createMemoryStore({ now }))
describeLiveStoreConformance('memory store', async ({ now }) => createMemoryStore({ now }))

describe('memory store: remove and size', () => {
  it('remove drops the given events and returns the ids it removed', async () => {
    const store = createMemoryStore({ now: () => T0 })
    const [a, b, c] = [fakeEvent(), fakeEvent(), fakeEvent()]
    for (const e of [a, b, c]) await store.event(e)
    expect(store.size()).toBe(3)
    expect(await store.remove([a.id, 'f'.repeat(64), a.id, c.id])).toEqual([a.id, c.id])
    expect(await store.query([{}])).toEqual([b])
    expect(store.size()).toBe(1)
  })

  it('remove leaves no tombstone: a removed event can be written again', async () => {
    const store = createMemoryStore({ now: () => T0 })
    const chat = fakeEvent({ kind: KIND_LIVE_CHAT })
    await store.event(chat)
    await store.remove([chat.id])
    expect(await store.event(chat)).toEqual({ ok: true, stored: true, reason: '', removed: [] })
  })

  it('removing a deletion lifts the block it caused', async () => {
    const store = createMemoryStore({ now: () => T0 })
    const note = fakeEvent()
    const del = fakeEvent({ kind: KIND_DELETION, tags: [['e', note.id]] })
    await store.event(del)
    expect(await store.event(note)).toEqual({ ok: false, reason: 'blocked: deleted by its author' })
    await store.remove([del.id])
    expect(await store.event(note)).toMatchObject({ ok: true, stored: true })
  })

  it('removing the current version of an address frees the address for any version', async () => {
    const store = createMemoryStore({ now: () => T0 })
    const newer = fakeEvent({ kind: KIND_LIVE_EVENT, tags: [['d', 's']], created_at: T0 })
    const older = fakeEvent({ kind: KIND_LIVE_EVENT, tags: [['d', 's']], created_at: T0 - 10 })
    await store.event(newer)
    await store.remove([newer.id])
    expect(await store.event(older)).toMatchObject({ ok: true, stored: true, removed: [] })
  })

  it('size does not count expired events', async () => {
    let t = T0
    const store = createMemoryStore({ now: () => t })
    await store.event(fakeEvent({ tags: [['expiration', String(T0 + 1)]] }))
    await store.event(fakeEvent())
    expect(store.size()).toBe(2)
    t = T0 + 1
    expect(store.size()).toBe(1)
  })

  it('uses the wall clock when none is given', async () => {
    const store = createMemoryStore()
    const nowSeconds = Math.floor(Date.now() / 1000)
    expect(await store.event(fakeEvent({ tags: [['expiration', String(nowSeconds - 1)]] }))).toEqual({ ok: false, reason: 'invalid: event has expired' })
    expect(await store.event(fakeEvent({ tags: [['expiration', String(nowSeconds + 3600)]] }))).toMatchObject({ ok: true, stored: true })
  })
})
