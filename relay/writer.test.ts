import { describe, expect, it } from 'vitest'
import type { WriteResult } from '../protocol/store.ts'
import type { NostrEvent } from '../protocol/types.ts'
import { createTestLogger } from './test-harness.ts'
import { createWriter } from './writer.ts'

const ev = (n: number): NostrEvent => ({ id: String(n), pubkey: 'p', kind: 1, created_at: n, tags: [], content: '', sig: '' })
const ok: WriteResult = { ok: true, stored: true, reason: '', removed: [] }

describe('writer', () => {
  it('batches what arrives in one tick, caps batch size, and keeps order', async () => {
    const batches: string[][] = []
    const w = createWriter({
      eventBatch: async (events) => (batches.push(events.map((e) => e.id)), events.map(() => ok)),
      batchMax: 3,
      log: createTestLogger(),
    })
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => w.write(ev(n))))
    expect(results).toEqual([ok, ok, ok, ok, ok])
    expect(batches).toEqual([['1', '2', '3'], ['4', '5']])
  })

  it('runs exclusive tasks between batches, never during one', async () => {
    const log: string[] = []
    let inBatch = false
    const w = createWriter({
      eventBatch: async (events) => {
        inBatch = true
        log.push(`batch ${events.map((e) => e.id).join(',')}`)
        await Promise.resolve()
        inBatch = false
        return events.map(() => ok)
      },
      batchMax: 10,
      log: createTestLogger(),
    })
    const a = w.write(ev(1))
    const task = w.exclusive(async () => (log.push(`task (in batch: ${inBatch})`), 42))
    const b = w.write(ev(2))
    expect(await task).toBe(42)
    await Promise.all([a, b])
    expect(log).toEqual(['batch 1', 'task (in batch: false)', 'batch 2'])
  })

  it('a failing batch resolves every write with error: and the next batch still runs', async () => {
    let calls = 0
    const logger = createTestLogger()
    const w = createWriter({
      eventBatch: async (events) => {
        if (calls++ === 0) throw new Error('disk full')
        return events.map(() => ok)
      },
      batchMax: 10,
      log: logger,
    })
    const failed = await Promise.all([w.write(ev(1)), w.write(ev(2))])
    expect(failed.map((r) => r.ok || r.reason)).toEqual([expect.stringMatching(/^error: /), expect.stringMatching(/^error: /)])
    expect(await w.write(ev(3))).toEqual(ok)
    expect(logger.errors.length).toBe(1)
  })

  it('an exclusive task that throws rejects only its own promise', async () => {
    const w = createWriter({ eventBatch: async (events) => events.map(() => ok), batchMax: 10, log: createTestLogger() })
    await expect(w.exclusive(() => Promise.reject(new Error('nope')))).rejects.toThrow('nope')
    await expect(w.exclusive(() => { throw new Error('sync nope') })).rejects.toThrow('sync nope')
    expect(await w.write(ev(1))).toEqual(ok)
    await w.drain()
    expect(w.pending).toBe(0)
  })
})

describe('writer with batches in flight', () => {
  it('starts the next batch before the first is durable, and reports outcomes in order', async () => {
    const started: string[][] = []
    const finish: (() => void)[] = []
    const w = createWriter({
      eventBatch: (events) => {
        started.push(events.map((e) => e.id))
        return new Promise((resolve) => finish.push(() => resolve(events.map(() => ok))))
      },
      batchMax: 2,
      batchesInFlight: 2,
      log: createTestLogger(),
    })
    const order: number[] = []
    const writes = [1, 2, 3, 4, 5].map((n) => w.write(ev(n)).then(() => order.push(n)))
    await new Promise((resolve) => setImmediate(resolve))
    // Two batches handed over at once; the third waits for a slot.
    expect(started).toEqual([['1', '2'], ['3', '4']])
    finish[1]() // the second commits first: its writes must still wait for the first's
    await new Promise((resolve) => setImmediate(resolve))
    expect(order).toEqual([])
    finish[0]()
    await new Promise((resolve) => setImmediate(resolve))
    expect(order).toEqual([1, 2, 3, 4])
    await new Promise((resolve) => setImmediate(resolve)) // the freed slot takes the rest
    expect(started).toEqual([['1', '2'], ['3', '4'], ['5']])
    finish[2]()
    await Promise.all(writes)
    expect(order).toEqual([1, 2, 3, 4, 5])
  })

  it('an exclusive task waits for every batch in flight', async () => {
    const log: string[] = []
    const finish: (() => void)[] = []
    const w = createWriter({
      eventBatch: (events) => {
        log.push(`start ${events[0].id}`)
        return new Promise((resolve) => finish.push(() => (log.push(`done ${events[0].id}`), resolve(events.map(() => ok)))))
      },
      batchMax: 1,
      batchesInFlight: 3,
      log: createTestLogger(),
    })
    const a = w.write(ev(1))
    const b = w.write(ev(2))
    const task = w.exclusive(async () => void log.push('task'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(log).toEqual(['start 1', 'start 2'])
    finish[0]()
    finish[1]()
    await Promise.all([a, b, task])
    expect(log).toEqual(['start 1', 'start 2', 'done 1', 'done 2', 'task'])
    await w.drain()
  })
})
