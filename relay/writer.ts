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
  log: Pick<Console, 'error'>
}

type Job =
  | { type: 'event'; event: NostrEvent; done: (r: WriteResult) => void }
  | { type: 'task'; run: () => Promise<void> }

const STORE_FAILED = error('could not store the event; try again')

export function createWriter(opts: WriterOptions): Writer {
  const queue: Job[] = []
  let running: Promise<void> | undefined
  let pendingEvents = 0

  function kick(): void {
    // setImmediate lets every message already received this tick join the batch.
    running ??= new Promise<void>((resolve) => setImmediate(resolve)).then(loop).finally(() => {
      running = undefined
      if (queue.length > 0) kick()
    })
  }

  async function loop(): Promise<void> {
    while (queue.length > 0) {
      if (queue[0].type === 'task') {
        await (queue.shift() as Extract<Job, { type: 'task' }>).run()
        continue
      }
      let n = 0
      while (n < queue.length && n < opts.batchMax && queue[n].type === 'event') n++
      const batch = queue.splice(0, n) as Extract<Job, { type: 'event' }>[]
      pendingEvents -= batch.length
      let results: WriteResult[]
      try {
        results = await opts.eventBatch(batch.map((j) => j.event))
        if (results.length !== batch.length) throw new Error(`store returned ${results.length} results for ${batch.length} events`)
      } catch (err) {
        opts.log.error(`writer: batch of ${batch.length} failed`, err)
        results = batch.map(() => ({ ok: false, reason: STORE_FAILED }))
      }
      for (let i = 0; i < batch.length; i++) batch[i].done(results[i])
    }
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
    async drain() {
      while (running) await running
    },
    get pending() {
      return pendingEvents
    },
  }
}
