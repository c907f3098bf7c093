import { error } from '../protocol/reasons.ts'
import type { WriteResult } from '../protocol/store.ts'
import type { NostrEvent } from '../protocol/types.ts'

/**
 * The one writer (strfry's): events accepted while a transaction is in flight wait and go
 * together into the next one, so a burst costs one durable commit, not one per event. Each
 * write resolves only after its batch has committed. Other exclusive work (sweeps, moderation
 * removals) runs between batches, never beside one.
 */
export interface Writer {
  /** Resolves with the event's outcome once its batch is durably committed. Never rejects. */
  write(event: NostrEvent): Promise<WriteResult>
  /** Runs `task` alone, between batches. */
  exclusive<T>(task: () => Promise<T>): Promise<T>
  /** Resolves when everything queued so far is done. */
  drain(): Promise<void>
  /** Events waiting for the next batch. */
  readonly pending: number
}

export interface WriterOptions {
  /** Commits the events in one transaction and returns one result per event, in order. */
  eventBatch(events: NostrEvent[]): Promise<WriteResult[]>
  batchMax: number
  /**
   * Batches handed to the store before the first has become durable (default 1). The store must
   * run them in the order given (lmdb-js does: the next transaction runs while the previous one
   * is being synced); outcomes are still reported in order, each only once its batch is durable.
   */
  batchesInFlight?: number
  log: Pick<Console, 'error'>
}

type Job =
  | { type: 'event'; event: NostrEvent; done: (r: WriteResult) => void }
  | { type: 'task'; run: () => Promise<void> }

const STORE_FAILED = error('could not store the event; try again')

export function createWriter(opts: WriterOptions): Writer {
  const queue: Job[] = []
  const maxInFlight = Math.max(1, opts.batchesInFlight ?? 1)
  let pendingEvents = 0
  let inFlight = 0
  let scheduled = false
  let taskRunning = false
  /** Batches report in the order they were started. */
  let tail: Promise<void> = Promise.resolve()
  let idle: (() => void)[] = []

  function kick(): void {
    if (scheduled) return
    scheduled = true
    // setImmediate lets every message already received this tick join the batch.
    setImmediate(() => {
      scheduled = false
      pump()
    })
  }

  function settled(): void {
    if (queue.length > 0) return kick()
    if (inFlight > 0 || taskRunning) return
    const waiters = idle
    idle = []
    for (const resolve of waiters) resolve()
  }

  function pump(): void {
    while (queue.length > 0 && !taskRunning) {
      if (queue[0].type === 'task') {
        // Exclusive work waits for every batch in flight, and batches wait for it.
        if (inFlight > 0) return
        const task = queue.shift() as Extract<Job, { type: 'task' }>
        taskRunning = true
        void task.run().finally(() => {
          taskRunning = false
          settled()
        })
        return
      }
      if (inFlight >= maxInFlight) return
      let n = 0
      while (n < queue.length && n < opts.batchMax && queue[n].type === 'event') n++
      startBatch(queue.splice(0, n) as Extract<Job, { type: 'event' }>[])
    }
  }

  function startBatch(batch: Extract<Job, { type: 'event' }>[]): void {
    pendingEvents -= batch.length
    inFlight++
    const outcome = (async (): Promise<WriteResult[]> => {
      try {
        const results = await opts.eventBatch(batch.map((j) => j.event))
        if (results.length !== batch.length) throw new Error(`store returned ${results.length} results for ${batch.length} events`)
        return results
      } catch (err) {
        opts.log.error(`writer: batch of ${batch.length} failed`, err)
        return batch.map(() => ({ ok: false, reason: STORE_FAILED }))
      }
    })()
    tail = tail
      .then(() => outcome)
      .then((results) => {
        for (let i = 0; i < batch.length; i++) batch[i].done(results[i])
      })
      .finally(() => {
        inFlight--
        settled()
      })
  }

  return {
    write(event) {
      return new Promise((done) => {
        queue.push({ type: 'event', event, done })
        pendingEvents++
        kick()
      })
    },
    exclusive(task) {
      return new Promise((resolve, reject) => {
        queue.push({ type: 'task', run: () => Promise.resolve().then(task).then(resolve, reject) })
        kick()
      })
    },
    drain() {
      if (queue.length === 0 && inFlight === 0 && !taskRunning) return Promise.resolve()
      return new Promise<void>((resolve) => idle.push(resolve))
    },
    get pending() {
      return pendingEvents
    },
  }
}
