import { describe, expect, it } from 'vitest'
import type { Coordinate } from '../../protocol/coordinate.ts'
import { KIND_DELETION } from '../../protocol/kinds.ts'
import { buildChatMessage, getChatMessage } from '../../protocol/nip53.ts'
import { testPubkey, testSigner } from '../../test/fixtures/keys.ts'
import { createChat, KIND_REACTION } from './chat.ts'
import { createFakePool } from './fake-pool.ts'

const T = 1_750_000_000
const coordinate: Coordinate = { kind: 30311, pubkey: testPubkey('host'), identifier: 'show' }
const bob = testSigner('bob')
const alice = testSigner('alice')
const host = testSigner('host')
const say = (signer: typeof bob, content: string, at = T, c = coordinate) => signer(buildChatMessage({ coordinate: c, relay: 'ws://r', content }, at))

function setup(signer = bob) {
  const pool = createFakePool()
  const chat = createChat(pool, { coordinate, relays: () => ['ws://r'], moderators: () => [coordinate.pubkey], sign: async (t) => signer(t), now: () => T })
  return { pool, chat }
}

describe('chat', () => {
  it('keeps this stream’s messages in time order, once each', () => {
    const { chat } = setup()
    const m2 = say(alice, 'second', T + 1)
    chat.apply(m2)
    chat.apply(say(bob, 'first', T))
    chat.apply(m2)
    chat.apply(say(bob, 'elsewhere', T, { ...coordinate, identifier: 'other' }))
    expect(chat.messages.value.map((m) => m.message.content)).toEqual(['first', 'second'])
  })

  it('sends a message that shows at once, and a reply carries the e tag', async () => {
    const { pool, chat } = setup()
    const target = say(alice, 'question?')
    chat.apply(target)
    chat.replyTo.value = target
    expect(await chat.send('  answer  ')).toBe(true)
    const sent = pool.published[0]
    expect(getChatMessage(sent)).toMatchObject({ content: 'answer', replyTo: { id: target.id } })
    expect(chat.replyTo.value).toBeUndefined()
    expect(chat.messages.value.map((m) => m.message.content)).toEqual(['question?', 'answer'])
    expect(await chat.send('   ')).toBe(false)
  })

  it('shows the relay’s refusal to the sender in plain words, and clears it after a success', async () => {
    const { pool, chat } = setup()
    pool.refuse = () => 'blocked: author is on the host mute list'
    expect(await chat.send('hi')).toBe(false)
    expect(chat.error.value).toBe("You can't chat here: the host has muted you.")
    expect(chat.messages.value).toEqual([])
    pool.refuse = () => undefined
    expect(await chat.send('hi again')).toBe(true)
    expect(chat.error.value).toBeUndefined()
  })

  it('paces the sender in slow mode without asking the relay', async () => {
    const pool = createFakePool()
    let clock = T
    const chat = createChat(pool, { coordinate, relays: () => ['ws://r'], moderators: () => [], sign: async (t) => bob(t), now: () => clock })
    chat.slowMode.value = 10
    expect(await chat.send('one')).toBe(true)
    clock += 4
    expect(await chat.send('two')).toBe(false)
    expect(chat.error.value).toBe('Slow mode is on: you can send again in 6 s.')
    expect(pool.published.length).toBe(1)
    clock += 6
    expect(await chat.send('three')).toBe(true)
  })

  it('says so when signing fails (not signed in)', async () => {
    const pool = createFakePool()
    const chat = createChat(pool, { coordinate, relays: () => [], moderators: () => [], sign: async () => Promise.reject(new Error('Sign in first.')) })
    expect(await chat.send('hi')).toBe(false)
    expect(chat.error.value).toBe('Sign in first.')
    expect(pool.published).toEqual([])
  })

  it('removes a message deleted by the host or its author, not by anyone else', () => {
    const { chat } = setup()
    const a = say(alice, 'a')
    const b = say(bob, 'b', T + 1)
    chat.apply(a)
    chat.apply(b)
    const del = (signer: typeof bob, id: string) => signer({ kind: KIND_DELETION, created_at: T + 5, content: '', tags: [['e', id]] })
    chat.apply(del(bob, a.id))
    expect(chat.messages.value.length).toBe(2)
    chat.apply(del(host, a.id))
    chat.apply(del(bob, b.id))
    expect(chat.messages.value).toEqual([])
    chat.apply(a)
    expect(chat.messages.value).toEqual([])
  })

  it('counts reactions per emoji, also when they arrive before the message', async () => {
    const { chat, pool } = setup()
    const m = say(alice, 'nice')
    const react = (signer: typeof bob, content: string) => signer({ kind: KIND_REACTION, created_at: T, content, tags: [['e', m.id], ['p', m.pubkey]] })
    chat.apply(react(bob, '🔥'))
    chat.apply(m)
    chat.apply(react(host, '🔥'))
    chat.apply(react(host, '+'))
    const item = chat.messages.value[0]
    expect(item.reactions.get('🔥')?.size).toBe(2)
    expect(item.reactions.get('❤️')?.size).toBe(1)
    expect(await chat.react(m, '👏')).toBe(true)
    expect(pool.published[0].tags).toContainEqual(['a', `30311:${coordinate.pubkey}:show`])
  })

  it('reports with NIP-56 tags and resolves the pinned message', async () => {
    const { chat, pool } = setup()
    const m = say(alice, 'pin me')
    chat.apply(m)
    chat.pinnedId.value = m.id
    expect(chat.pinned.value?.event.id).toBe(m.id)
    expect(await chat.report(m, 'spam')).toBe(true)
    expect(pool.published[0]).toMatchObject({ kind: 1984, tags: [['e', m.id, 'spam'], ['p', m.pubkey, 'spam']] })
  })
})
