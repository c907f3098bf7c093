import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { getDeletionTargets, isDeletedBy } from './deletion.ts'
import { KIND_DELETION, KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_METADATA, KIND_MUTE_LIST } from './kinds.ts'
import type { NostrEvent } from './types.ts'

const ALICE = 'a'.repeat(64)
const BOB = 'b'.repeat(64)
const hex64 = (n: number): string => n.toString(16).padStart(64, '0')
const SHOW = `${KIND_LIVE_EVENT}:${ALICE}:show`

function fake(fields: Partial<NostrEvent>): NostrEvent {
  return { id: hex64(1), pubkey: ALICE, created_at: 1000, kind: KIND_LIVE_CHAT, tags: [], content: '', sig: '0'.repeat(128), ...fields }
}
const deletion = (tags: string[][], fields: Partial<NostrEvent> = {}): NostrEvent =>
  fake({ id: hex64(0xde1), kind: KIND_DELETION, tags, ...fields })
const show = (fields: Partial<NostrEvent>): NostrEvent => fake({ kind: KIND_LIVE_EVENT, tags: [['d', 'show']], ...fields })

describe('getDeletionTargets', () => {
  it('reads ids from e tags and coordinates from a tags, without duplicates', () => {
    const del = deletion([
      ['e', hex64(7)],
      ['a', SHOW],
      ['e', hex64(7)],
      ['a', `${KIND_MUTE_LIST}:${ALICE}:`],
      ['k', String(KIND_LIVE_EVENT)],
      ['p', BOB],
    ])
    expect(getDeletionTargets(del)).toEqual({ ids: [hex64(7)], addresses: [SHOW, `${KIND_MUTE_LIST}:${ALICE}:`] })
  })

  it('drops malformed values', () => {
    const del = deletion([
      ['e', hex64(7).toUpperCase().replace(/0/g, 'F')],
      ['e', 'abc'],
      ['e'],
      ['a', `${KIND_LIVE_CHAT}:${ALICE}:`], // a regular kind has no address
      ['a', `${KIND_METADATA}:${ALICE}:x`], // a replaceable kind has an empty d
      ['a', `0${KIND_LIVE_EVENT}:${ALICE}:show`], // not written as getAddress writes it
      ['a', `${KIND_LIVE_EVENT}:${ALICE.toUpperCase()}:show`],
      ['a', `${KIND_LIVE_EVENT}:${ALICE}`],
      ['a', 'nonsense'],
    ])
    expect(getDeletionTargets(del)).toEqual({ ids: [], addresses: [] })
  })

  it('keeps a d that contains colons', () => {
    expect(getDeletionTargets(deletion([['a', `${SHOW}:part:2`]])).addresses).toEqual([`${SHOW}:part:2`])
  })

  it('is empty for an event that is not a deletion request', () => {
    expect(getDeletionTargets(fake({ tags: [['e', hex64(7)], ['a', SHOW]] }))).toEqual({ ids: [], addresses: [] })
  })
})

describe('isDeletedBy', () => {
  it('deletes by e the same author’s event', () => {
    expect(isDeletedBy(fake({ id: hex64(7) }), deletion([['e', hex64(7)]]))).toBe(true)
    expect(isDeletedBy(fake({ id: hex64(8) }), deletion([['e', hex64(7)]]))).toBe(false)
  })

  it('an e deletion applies whatever the created_at', () => {
    expect(isDeletedBy(fake({ id: hex64(7), created_at: 5000 }), deletion([['e', hex64(7)]], { created_at: 1 }))).toBe(true)
  })

  it('has no effect on another author’s events', () => {
    expect(isDeletedBy(fake({ id: hex64(7), pubkey: BOB }), deletion([['e', hex64(7)]]))).toBe(false)
    const bobsShow = show({ pubkey: BOB })
    expect(isDeletedBy(bobsShow, deletion([['a', `${KIND_LIVE_EVENT}:${BOB}:show`]]))).toBe(false)
  })

  it('deletes by a the versions created at or before the deletion, not newer ones', () => {
    const del = deletion([['a', SHOW]], { created_at: 1000 })
    expect(isDeletedBy(show({ created_at: 999 }), del)).toBe(true)
    expect(isDeletedBy(show({ created_at: 1000 }), del)).toBe(true)
    expect(isDeletedBy(show({ created_at: 1001 }), del)).toBe(false)
    expect(isDeletedBy(show({ tags: [['d', 'other']] }), del)).toBe(false)
  })

  it('deletes a replaceable event by its kind:pubkey: coordinate', () => {
    expect(isDeletedBy(fake({ kind: KIND_MUTE_LIST }), deletion([['a', `${KIND_MUTE_LIST}:${ALICE}:`]]))).toBe(true)
  })

  it('never deletes a deletion request (NIP-09: no effect)', () => {
    const first = deletion([['e', hex64(7)]], { id: hex64(0xd1) })
    expect(isDeletedBy(first, deletion([['e', hex64(0xd1)]]))).toBe(false)
  })

  it('only a kind-5 event deletes', () => {
    expect(isDeletedBy(fake({ id: hex64(7) }), fake({ id: hex64(8), tags: [['e', hex64(7)]] }))).toBe(false)
  })

  it('invariant: an a deletion removes exactly the same author’s versions at or before its created_at', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(ALICE, BOB),
        fc.integer({ min: 0, max: 20 }),
        fc.constantFrom(ALICE, BOB),
        fc.integer({ min: 0, max: 20 }),
        (author, created_at, deleter, deletedAt) => {
          const version = show({ pubkey: author, created_at })
          const del = deletion([['a', `${KIND_LIVE_EVENT}:${author}:show`]], { pubkey: deleter, created_at: deletedAt })
          expect(isDeletedBy(version, del)).toBe(author === deleter && created_at <= deletedAt)
        },
      ),
      { numRuns: 1000 },
    )
  })
})
