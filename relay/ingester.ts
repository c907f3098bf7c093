import { validateEventShape } from '../protocol/event.ts'
import type { EventHasher } from '../protocol/event.ts'
import { error, invalid } from '../protocol/reasons.ts'
import type { Rejection } from '../protocol/reasons.ts'
import type { NostrEvent } from '../protocol/types.ts'

/**
 * The ingester (strfry's first stage): shape check on arrival, then ids and signatures in
 * chunks — one batch call into the verifier per chunk — yielding to the event loop between
 * chunks so a flood of EVENTs never starves other connections. Verified events go on, in
 * arrival order, to `accept` (policies, then the writer).
 */
export interface Verifier {
  hash: EventHasher
  checkMany(events: readonly NostrEvent[]): boolean[]
}

export interface Ingester<C> {
  /** Takes an EVENT payload as parsed from JSON. */
  push(payload: unknown, client: C): void
  /** Resolves once every pushed event has been handed on or refused. */
  drain(): Promise<void>
  readonly pending: number
}

export interface IngesterOptions<C> {
  verifier: Verifier
  /** Events verified per turn of the event loop. */
  chunk: number
  /** Refusal; `eventId` is undefined when the payload had no usable id (answer with NOTICE). */
  reject(client: C, eventId: string | undefined, reason: Rejection): void
  /** A verified event. Awaited only if it returns a promise, to keep arrival order. */
  accept(event: NostrEvent, client: C): void | Promise<void>
  log: Pick<Console, 'error'>
}

const HEX64 = /^[0-9a-f]{64}$/

/** The `id` of an untrusted payload when it is 64 lowercase hex, so an OK can name it. */
export function getPayloadId(payload: unknown): string | undefined {
  const id = typeof payload === 'object' && payload !== null ? (payload as { id?: unknown }).id : undefined
  return typeof id === 'string' && HEX64.test(id) ? id : undefined
}

export function createIngester<C>(opts: IngesterOptions<C>): Ingester<C> {
  const queue: { event: NostrEvent; client: C }[] = []
  let running: Promise<void> | undefined

  function start(): void {
    running ??= loop()
      .catch((err: unknown) => opts.log.error('ingester: loop failed', err))
      .finally(() => {
        running = undefined
        if (queue.length > 0) start()
      })
  }

  async function loop(): Promise<void> {
    while (queue.length > 0) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      const chunk = queue.splice(0, opts.chunk)
      let verdicts: (Rejection | undefined)[]
      try {
        verdicts = verify(chunk.map((item) => item.event))
      } catch (err) {
        opts.log.error('ingester: signature check failed', err)
        verdicts = chunk.map(() => error('could not verify the signature; try again'))
      }
      for (let i = 0; i < chunk.length; i++) {
        const { event, client } = chunk[i]
        const verdict = verdicts[i]
        if (verdict) {
          opts.reject(client, event.id, verdict)
          continue
        }
        try {
          const next = opts.accept(event, client)
          if (next instanceof Promise) await next
        } catch (err) {
          opts.log.error(`ingester: event ${event.id} failed after verification`, err)
          opts.reject(client, event.id, error('internal error while handling the event'))
        }
      }
    }
  }

  /** Ids first, so the signature backend only sees events whose id commits to the content. */
  function verify(events: NostrEvent[]): (Rejection | undefined)[] {
    const verdicts: (Rejection | undefined)[] = events.map((e) =>
      opts.verifier.hash(e) === e.id ? undefined : invalid('event id does not match its content'),
    )
    const toCheck = events.filter((_, i) => verdicts[i] === undefined)
    const good = opts.verifier.checkMany(toCheck)
    let j = 0
    for (let i = 0; i < events.length; i++) {
      if (verdicts[i] === undefined && !good[j++]) verdicts[i] = invalid('bad signature')
    }
    return verdicts
  }

  return {
    push(payload, client) {
      const shape = validateEventShape(payload)
      if (shape) return opts.reject(client, getPayloadId(payload), shape)
      queue.push({ event: payload as NostrEvent, client })
      start()
    },
    async drain() {
      while (running) await running
    },
    get pending() {
      return queue.length
    },
  }
}
