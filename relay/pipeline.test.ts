import { describe, expect, it } from 'vitest'
import { finalizeEvent, generateSecretKey } from '../protocol/keys.ts'
import { compareEvents } from '../protocol/filter.ts'
import { KIND_TEXT_NOTE } from '../protocol/kinds.ts'
import { createMemoryStore } from '../protocol/memory-store.ts'
import { blocked } from '../protocol/reasons.ts'
import type { WriteResult } from '../protocol/store.ts'
import type { EventTemplate, NostrEvent } from '../protocol/types.ts'
import type { QueryRequest, RelayExtension } from './hooks.ts'
import { adaptMemoryStore } from './store-port.ts'
import type { RelayStore } from './store-port.ts'
import { connectRaw, isVerb, startTestRelay } from './test-harness.ts'

const now = (): number => Math.floor(Date.now() / 1000)
const sk = generateSecretKey()
const sign = (t: Partial<EventTemplate> = {}): NostrEvent =>
  finalizeEvent({ kind: KIND_TEXT_NOTE, tags: [], content: String(Math.random()), created_at: now(), ...t }, sk)

/** A store whose commits wait until the test releases them, and which records its batches. */
function gatedStore() {
  const inner = adaptMemoryStore(createMemoryStore())
  const batches: number[] = []
  let release: () => void = () => undefined
  let gate = new Promise<void>((resolve) => (release = resolve))
  let onBatch: () => void = () => undefined
  const batchStarted = () => new Promise<void>((resolve) => (onBatch = resolve))
  const store: RelayStore = {
    ...inner,
    async eventBatch(events) {
      batches.push(events.length)
      onBatch()
      await gate
      return inner.eventBatch(events)
    },
  }
  return {
    store,
    batches,
    batchStarted,
    open() {
      release()
      gate = Promise.resolve()
    },
  }
}

describe('the write path', () => {
  it('sends OK only after the batch has committed', async () => {
    const g = gatedStore()
    const t = await startTestRelay({}, { store: g.store })
    const raw = await connectRaw(t.url)
    const started = g.batchStarted()
    const note = sign()
    raw.send(['EVENT', note])
    await started
    // The relay answers a connection in order: had the OK been sent, it would precede this EOSE.
    raw.send(['REQ', 'probe', { ids: [note.id] }])
    const seen: string[] = []
    await raw.next((m) => (seen.push(m[0]), m[0] === 'EOSE'))
    expect(seen).toEqual(['EOSE'])
    g.open()
    expect(await raw.next(isVerb('OK', note.id))).toEqual(['OK', note.id, true, ''])
    raw.close()
    await t.stop()
  })

  it('groups events that arrive while a commit is in flight into one batch', async () => {
    const g = gatedStore()
    // One transaction at a time, so the rest must queue behind the gated one.
    const t = await startTestRelay({ writeBatchesInFlight: 1 }, { store: g.store })
    const raw = await connectRaw(t.url)
    const started = g.batchStarted()
    const first = sign()
    raw.send(['EVENT', first])
    await started
    const rest = Array.from({ length: 50 }, () => sign())
    for (const e of rest) raw.send(['EVENT', e])
    // Wait (one round trip at a time) until all 50 are verified and queued behind the commit.
    while (t.relay.stats().pendingWrites < rest.length) {
      raw.send(['REQ', 'probe', { limit: 0 }])
      await raw.next(isVerb('EOSE', 'probe'))
    }
    g.open()
    for (const e of [first, ...rest]) expect((await raw.next(isVerb('OK', e.id)))[2]).toBe(true)
    expect(g.batches).toEqual([1, 50])
    raw.close()
    await t.stop()
  })

  it('refuses messages beyond the per-connection cap while earlier ones are in progress', async () => {
    const g = gatedStore()
    const t = await startTestRelay({ maxPendingPerConnection: 2 }, { store: g.store })
    const raw = await connectRaw(t.url)
    const started = g.batchStarted()
    const [e1, e2, e3] = [sign(), sign(), sign()]
    raw.send(['EVENT', e1])
    raw.send(['EVENT', e2])
    await started
    raw.send(['EVENT', e3])
    raw.send(['REQ', 'busy', {}])
    expect((await raw.next(isVerb('OK', e3.id)))[3]).toMatch(/^rate-limited: more than 2 messages in progress/)
    expect((await raw.next(isVerb('CLOSED', 'busy')))[2]).toMatch(/^rate-limited: /)
    g.open()
    for (const e of [e1, e2]) expect((await raw.next(isVerb('OK', e.id)))[2]).toBe(true)
    raw.send(['EVENT', e3])
    expect((await raw.next(isVerb('OK', e3.id)))[2]).toBe(true)
    raw.close()
    await t.stop()
  })

  it('a store failure is answered with error: and the relay keeps serving', async () => {
    const inner = adaptMemoryStore(createMemoryStore())
    let fail = true
    const store: RelayStore = {
      ...inner,
      eventBatch: (events) => (fail ? Promise.reject(new Error('disk on fire')) : inner.eventBatch(events)),
    }
    const t = await startTestRelay({}, { store })
    const raw = await connectRaw(t.url)
    const note = sign()
    raw.send(['EVENT', note])
    expect((await raw.next(isVerb('OK', note.id)))[3]).toMatch(/^error: /)
    fail = false
    raw.send(['EVENT', note])
    expect(await raw.next(isVerb('OK', note.id))).toEqual(['OK', note.id, true, ''])
    expect(t.errors.length).toBe(1)
    raw.close()
    await t.stop()
  })
})

describe('extension hooks', () => {
  it('policies run in order after the built-ins, may be async, and the first rejection wins', async () => {
    const calls: string[] = []
    const ext: RelayExtension = {
      name: 'test',
      policies: [
        async (e) => (calls.push(`async ${e.content}`), e.content === 'no' ? blocked('said no') : undefined),
        (e) => (calls.push(`sync ${e.content}`), undefined),
      ],
    }
    const t = await startTestRelay({}, { extensions: [ext] })
    const raw = await connectRaw(t.url)
    const yes = sign({ content: 'yes' })
    const no = sign({ content: 'no' })
    raw.send(['EVENT', no])
    raw.send(['EVENT', yes])
    expect(await raw.next(isVerb('OK', no.id))).toEqual(['OK', no.id, false, 'blocked: said no'])
    expect(await raw.next(isVerb('OK', yes.id))).toEqual(['OK', yes.id, true, ''])
    expect(calls).toEqual(['async no', 'async yes', 'sync yes'])
    raw.close()
    await t.stop()
  })

  it('an async policy can look up stored events through its context', async () => {
    const ext: RelayExtension = {
      name: 'needs-root',
      policies: [
        async (e, ctx) => {
          const root = e.tags.find((t) => t[0] === 'e')?.[1]
          if (!root) return undefined
          return (await ctx.query([{ ids: [root] }])).length > 0 ? undefined : blocked('reply to an unknown event')
        },
      ],
    }
    const t = await startTestRelay({}, { extensions: [ext] })
    const raw = await connectRaw(t.url)
    const root = sign()
    const orphan = sign({ tags: [['e', 'f'.repeat(64)]] })
    const reply = sign({ tags: [['e', root.id]] })
    for (const [e, accepted] of [[orphan, false], [root, true], [reply, true]] as const) {
      raw.send(['EVENT', e])
      expect((await raw.next(isVerb('OK', e.id)))[2]).toBe(accepted)
    }
    raw.close()
    await t.stop()
  })

  it('a throwing policy or query hook is answered with error:, logged, and harms no one else', async () => {
    const ext: RelayExtension = {
      name: 'broken',
      policies: [
        (e) => {
          if (e.content === 'boom') throw new Error('policy bug')
          return undefined
        },
      ],
      answerQuery(req) {
        if (req.subId === 'boom') throw new Error('query bug')
        return undefined
      },
    }
    const t = await startTestRelay({}, { extensions: [ext] })
    const raw = await connectRaw(t.url)
    const other = await connectRaw(t.url)
    const boom = sign({ content: 'boom' })
    raw.send(['EVENT', boom])
    expect((await raw.next(isVerb('OK', boom.id))).slice(2)).toEqual([false, expect.stringMatching(/^error: /)])
    raw.send(['REQ', 'boom', {}])
    expect((await raw.next(isVerb('CLOSED', 'boom')))[2]).toMatch(/^error: /)
    const fine = sign()
    other.send(['EVENT', fine])
    expect((await other.next(isVerb('OK', fine.id)))[2]).toBe(true)
    raw.send(['REQ', 'after', { ids: [fine.id] }])
    expect(await raw.next(isVerb('EVENT', 'after'))).toEqual(['EVENT', 'after', fine])
    expect(t.errors.length).toBe(2)
    raw.close()
    other.close()
    await t.stop()
  })

  it('afterCommit, answerQuery and subscription hooks see what happens; publish() fans out', async () => {
    const committed: string[] = []
    const opened: QueryRequest[] = []
    const closed: string[] = []
    const shown = sign({ content: 'shown' })
    const ext: RelayExtension = {
      name: 'observer',
      afterCommit: (e, r: WriteResult) => void committed.push(`${e.content}:${r.ok && r.stored}`),
      // Answers REQs named 'answered' itself, with the first event only; the store answers the rest.
      answerQuery: (req) => (req.subId === 'answered' ? Promise.resolve([JSON.stringify(shown)]) : undefined),
      subscriptionOpened: (s) => void opened.push(s),
      subscriptionClosed: (s) => void closed.push(s.subId),
    }
    const t = await startTestRelay({}, { extensions: [ext] })
    const raw = await connectRaw(t.url)
    const hidden = sign({ content: 'hidden' })
    for (const e of [shown, hidden]) {
      raw.send(['EVENT', e])
      await raw.next(isVerb('OK', e.id))
    }
    raw.send(['REQ', 'answered', { authors: [shown.pubkey] }])
    expect(await raw.next(isVerb('EVENT', 'answered'))).toEqual(['EVENT', 'answered', shown])
    expect(await raw.next(() => true)).toEqual(['EOSE', 'answered']) // nothing from the store
    raw.send(['CLOSE', 'answered'])
    raw.send(['REQ', 'q', { authors: [shown.pubkey] }])
    const stored = [await raw.next(isVerb('EVENT', 'q')), await raw.next(isVerb('EVENT', 'q'))]
    expect(stored.map((m) => (m[2] as NostrEvent).content).sort()).toEqual(['hidden', 'shown'])
    await raw.next(isVerb('EOSE', 'q'))
    expect(opened.map((s) => [s.subId, s.filters])).toEqual([
      ['answered', [{ authors: [shown.pubkey] }]],
      ['q', [{ authors: [shown.pubkey] }]],
    ])

    const byRelay = finalizeEvent({ kind: KIND_TEXT_NOTE, tags: [], content: 'relay', created_at: now() }, generateSecretKey())
    raw.send(['REQ', 'r', { ids: [byRelay.id] }])
    await raw.next(isVerb('EOSE', 'r'))
    expect(await t.relay.api.publish(byRelay)).toMatchObject({ ok: true, stored: true })
    expect(await raw.next(isVerb('EVENT', 'r'))).toEqual(['EVENT', 'r', byRelay])
    expect(committed).toEqual(['shown:true', 'hidden:true', 'relay:true'])

    raw.send(['CLOSE', 'q'])
    raw.close()
    await raw.closed
    await t.stop()
    expect(closed.sort()).toEqual(['answered', 'q', 'r'])
  })

  it('NEG-* messages go to the extension that claims them; otherwise NEG-ERR', async () => {
    const seen: unknown[] = []
    const ext: RelayExtension = {
      name: 'neg',
      messages: { 'NEG-OPEN': (msg, client) => (seen.push(msg), client.send(['NEG-MSG', msg[1] as string, '61'])) },
    }
    const t = await startTestRelay({}, { extensions: [ext] })
    const plain = await startTestRelay({}, { extensions: [] })
    for (const [relay, answer] of [
      [t, ['NEG-MSG', 'n', '61']],
      [plain, ['NEG-ERR', 'n', expect.stringMatching(/^blocked: /)]],
    ] as const) {
      const raw = await connectRaw(relay.url)
      raw.send(['NEG-OPEN', 'n', {}, '61'])
      expect(await raw.next((m) => m[1] === 'n')).toEqual(answer)
      raw.close()
    }
    expect(seen).toEqual([['NEG-OPEN', 'n', {}, '61']])
    await t.stop()
    await plain.stop()
  })
})

describe('write policies over the wire', () => {
  it('rate limits per IP answer rate-limited:', async () => {
    const t = await startTestRelay({ ipEventsPerSecond: 1, ipEventBurst: 3 })
    const raw = await connectRaw(t.url)
    const events = Array.from({ length: 4 }, () => sign())
    for (const e of events) raw.send(['EVENT', e])
    const answers = await Promise.all(events.map((e) => raw.next(isVerb('OK', e.id))))
    expect(answers.map((m) => m[2])).toEqual([true, true, true, false])
    expect(answers[3][3]).toMatch(/^rate-limited: /)
    raw.close()
    await t.stop()
  })

  it('with auth required for writes, EVENT before AUTH is answered auth-required:', async () => {
    const t = await startTestRelay({ authRequiredForWrites: true })
    const raw = await connectRaw(t.url)
    const note = sign()
    raw.send(['EVENT', note])
    expect((await raw.next(isVerb('OK', note.id)))[3]).toMatch(/^auth-required: /)
    const auth = sign({ kind: 22242, tags: [['relay', t.url], ['challenge', raw.challenge]] })
    raw.send(['AUTH', auth])
    expect((await raw.next(isVerb('OK', auth.id)))[2]).toBe(true)
    raw.send(['EVENT', note])
    expect(await raw.next(isVerb('OK', note.id))).toEqual(['OK', note.id, true, ''])
    raw.close()
    await t.stop()
  })

  it('only listed kinds are accepted when allowedKinds is set', async () => {
    const t = await startTestRelay({ allowedKinds: [KIND_TEXT_NOTE] })
    const raw = await connectRaw(t.url)
    const reaction = sign({ kind: 7 })
    raw.send(['EVENT', reaction])
    expect((await raw.next(isVerb('OK', reaction.id)))[3]).toBe('blocked: kind 7 is not accepted by this relay')
    raw.close()
    await t.stop()
  })
})

describe('backpressure', () => {
  it('a large REQ answer is paced to the client, not a reason to drop it', async () => {
    const t = await startTestRelay({ maxBufferedBytes: 64 * 1024, pubkeyEventBurst: 10_000 })
    const writer = await connectRaw(t.url)
    const notes = Array.from({ length: 200 }, (_, i) => sign({ content: `${i} ${'x'.repeat(2000)}`, created_at: now() - i }))
    for (const e of notes) writer.send(['EVENT', e])
    for (const e of notes) expect((await writer.next(isVerb('OK', e.id)))[2]).toBe(true)
    const reader = await connectRaw(t.url)
    reader.send(['REQ', 'all', { authors: [notes[0].pubkey], limit: 500 }])
    const got: string[] = []
    await Promise.race([
      reader.next((m) => (m[0] === 'EVENT' && got.push((m[2] as NostrEvent).id), m[0] === 'EOSE')),
      reader.closed.then((code) => Promise.reject(new Error(`the relay dropped the reader (${code})`))),
    ])
    expect(got).toEqual([...notes].sort(compareEvents).map((e) => e.id))
    writer.close()
    reader.close()
    await t.stop()
  })

  it('a subscriber that stops reading is dropped instead of buffered without bound', async () => {
    const t = await startTestRelay({ maxBufferedBytes: 64 * 1024, ipEventBurst: 10_000, pubkeyEventBurst: 10_000 })
    const slow = await connectRaw(t.url)
    slow.send(['REQ', 'all', { kinds: [KIND_TEXT_NOTE] }])
    await slow.next(isVerb('EOSE', 'all'))
    ;(slow.ws as unknown as { _socket: { pause(): void } })._socket.pause()
    const writer = await connectRaw(t.url)
    // Publish until the relay gives up on the slow reader (the kernel's buffers fill first).
    let sent = 0
    while (t.relay.stats().connections === 2 && sent < 1000) {
      const e = sign({ content: `${sent++} ${'y'.repeat(60_000)}` })
      writer.send(['EVENT', e])
      expect((await writer.next(isVerb('OK', e.id)))[2]).toBe(true)
    }
    expect(t.relay.stats()).toMatchObject({ connections: 1, subscriptions: 0 })
    expect(t.errors).toEqual([])
    writer.close()
    await t.stop()
  })
})
