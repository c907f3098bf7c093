import { describe, expect, it } from 'vitest'
import { getEventHash } from '../protocol/event.ts'
import { KIND_TEXT_NOTE } from '../protocol/kinds.ts'
import type { NostrEvent } from '../protocol/types.ts'
import { signAs } from '../test/fixtures/keys.ts'
import { createIngester } from './ingester.ts'
import type { Verifier } from './ingester.ts'
import { createTestLogger } from './test-harness.ts'

const CHUNK = 16 // the smallest chunk that goes to the thread
const events = Array.from({ length: 3 * CHUNK }, (_, i) => signAs('alice', { kind: KIND_TEXT_NOTE, created_at: 1_700_000_000 + i, tags: [], content: `n${i}` }))

const BAD_SIG = '0'.repeat(128)

/** A verifier whose off-thread answers are released by hand; every signature but BAD_SIG is "good". */
function handVerifier() {
  const good = (es: readonly NostrEvent[]) => es.map((e) => e.sig !== BAD_SIG)
  const held: { events: readonly NostrEvent[]; release(): void; fail(err: Error): void }[] = []
  const inline: number[] = []
  const verifier: Verifier = {
    hash: getEventHash,
    checkMany: (es) => (inline.push(es.length), good(es)),
    checkManyAsync: (es) =>
      new Promise((resolve, reject) => held.push({ events: es, release: () => resolve(good(es)), fail: reject })),
  }
  return { verifier, held, inline }
}

function collect(verifier: Verifier, chunk = CHUNK, clock?: () => number) {
  const accepted: string[] = []
  const rejected: [string | undefined, string][] = []
  const log = createTestLogger()
  const ingester = createIngester<null>({
    verifier,
    chunk,
    log,
    reject: (_c, id, reason) => void rejected.push([id, reason]),
    accept: (e) => void accepted.push(e.id),
    clock,
  })
  return { ingester, accepted, rejected, log }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe('ingester', () => {
  it('hands events on in arrival order while the thread holds every chunk in flight', async () => {
    const { verifier, held, inline } = handVerifier()
    const { ingester, accepted } = collect(verifier, CHUNK, () => 0)
    for (const e of events) ingester.push(e, null)
    for (let i = 0; i < 5; i++) await tick()
    // The clock stands still, so the thread is never overdue: all three chunks go to it.
    expect(held.map((h) => h.events.length)).toEqual([CHUNK, CHUNK, CHUNK])
    expect(inline).toEqual([])
    expect(accepted).toEqual([]) // everything waits behind the first chunk
    expect(ingester.pending).toBe(events.length)
    held[2].release() // answers out of order change nothing
    held[1].release()
    await tick()
    expect(accepted).toEqual([])
    held[0].release()
    await ingester.drain()
    expect(accepted).toEqual(events.map((e) => e.id))
    expect(ingester.pending).toBe(0)
  })

  it('checks inline once the thread is overdue for the work it holds, and trusts it again when it answers', async () => {
    const { verifier, held, inline } = handVerifier()
    let now = 0
    const { ingester, accepted } = collect(verifier, CHUNK, () => now)
    for (const e of events.slice(0, CHUNK)) ingester.push(e, null)
    for (let i = 0; i < 3; i++) await tick()
    expect(held).toHaveLength(1)
    // 16 events queued may take 20 ms + 16 × 0.15 ms; just inside that, the thread still gets work.
    now = 22
    for (const e of events.slice(CHUNK, 2 * CHUNK)) ingester.push(e, null)
    for (let i = 0; i < 3; i++) await tick()
    expect([held.length, inline]).toEqual([2, []])
    // Past what 32 queued events may take (24.8 ms): overdue, so the next chunk is checked here.
    now = 25
    for (const e of events.slice(2 * CHUNK)) ingester.push(e, null)
    for (let i = 0; i < 3; i++) await tick()
    expect([held.length, inline]).toEqual([2, [CHUNK]])
    held[0].release()
    held[1].release()
    await ingester.drain()
    expect(accepted).toEqual(events.map((e) => e.id))
    // Answered, so no longer overdue: the next chunk goes to the thread again.
    for (const e of events.slice(0, CHUNK)) ingester.push({ ...e }, null)
    for (let i = 0; i < 3; i++) await tick()
    expect([held.length, inline]).toEqual([3, [CHUNK]])
    held[2].release()
    await ingester.drain()
  })

  it('refuses a wrong id and a bad signature with their reasons; a failed thread call answers error: for its chunk only', async () => {
    const { verifier, held } = handVerifier()
    const { ingester, accepted, rejected, log } = collect(verifier, 2 * CHUNK)
    const wrongId = { ...events[0], content: 'changed' }
    const badSig = { ...events[1], sig: BAD_SIG }
    const batch = [wrongId, badSig, ...events.slice(2, CHUNK + 2)]
    for (const e of batch) ingester.push(e, null)
    for (let i = 0; i < 3; i++) await tick()
    held[0].fail(new Error('thread died'))
    await ingester.drain()
    expect(rejected[0]).toEqual([wrongId.id, 'invalid: event id does not match its content'])
    expect(rejected.slice(1).every(([, reason]) => reason.startsWith('error: '))).toBe(true)
    expect(accepted).toEqual([])
    expect(log.errors.length).toBe(1)

    // Inline (a chunk under the thread's minimum): the bad signature is named.
    for (const e of [badSig, events[20]]) ingester.push(e, null)
    await ingester.drain()
    expect(rejected.at(-1)).toEqual([badSig.id, 'invalid: bad signature'])
    expect(accepted).toEqual([events[20].id])
  })
})
