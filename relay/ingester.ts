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
  /** The same check off the main thread (relay/verify/thread.ts); used instead of checkMany when present. */
  checkManyAsync?(events: readonly NostrEvent[]): Promise<boolean[]>
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
  /** Milliseconds, for the starvation rule; default performance.now (injected by tests). */
  clock?: () => number
}

const HEX64 = /^[0-9a-f]{64}$/

/** The `id` of an untrusted payload when it is 64 lowercase hex, so an OK can name it. */
export function getPayloadId(payload: unknown): string | undefined {
  const id = typeof payload === 'object' && payload !== null ? (payload as { id?: unknown }).id : undefined
  return typeof id === 'string' && HEX64.test(id) ? id : undefined
}

/** Chunks being verified at once when verification runs off the main thread. */
const CHUNKS_IN_FLIGHT = 3
/** Smaller chunks are checked inline: a round trip to the thread costs more than a few checks. */
const MIN_OFF_THREAD = 16
/**
 * A thread that has not answered for this long beyond the time its queued checks need is not
 * getting a core: check here instead. A native check costs ~85 µs; 0.15 ms per queued event is
 * generous, so a thread merely busy with a full chunk (256 × 85 µs ≈ 22 ms) is never called starved.
 */
const THREAD_STARVED_MS = 20
const THREAD_MS_PER_EVENT = 0.15

export function createIngester<C>(opts: IngesterOptions<C>): Ingester<C> {
  const clock = opts.clock ?? (() => performance.now())
  const queue: { event: NostrEvent; client: C }[] = []
  const maxInFlight = opts.verifier.checkManyAsync ? CHUNKS_IN_FLIGHT : 1
  /** Chunks taken from the queue and not yet handed on; with a verify thread, several overlap. */
  let inFlight = 0
  let inFlightEvents = 0
  let scheduled = false
  /** Chunks hand their events on in the order they were taken, whatever order checks finish in. */
  let tail: Promise<void> = Promise.resolve()
  let idle: (() => void)[] = []
  /** Chunks on the verify thread, and when it last answered (or got work while idle). */
  let onThread = 0
  let onThreadEvents = 0
  let threadSince = 0

  function schedule(): void {
    if (scheduled || queue.length === 0 || inFlight >= maxInFlight) return
    scheduled = true
    // setImmediate: every message already received joins the chunk, and a flood of EVENTs
    // never starves other connections between chunks.
    setImmediate(() => {
      scheduled = false
      startChunk()
      schedule()
    })
  }

  function startChunk(): void {
    if (queue.length === 0 || inFlight >= maxInFlight) return
    const chunk = queue.splice(0, opts.chunk)
    inFlight++
    inFlightEvents += chunk.length
    const verdicts = verify(chunk.map((item) => item.event)).catch((err: unknown) => {
      opts.log.error('ingester: signature check failed', err)
      return chunk.map(() => error('could not verify the signature; try again'))
    })
    tail = tail
      .then(async () => handOn(chunk, await verdicts))
      .catch((err: unknown) => opts.log.error('ingester: loop failed', err))
      .finally(() => {
        inFlight--
        inFlightEvents -= chunk.length
        schedule()
        if (inFlight === 0 && queue.length === 0) {
          const waiters = idle
          idle = []
          for (const resolve of waiters) resolve()
        }
      })
  }

  async function handOn(chunk: { event: NostrEvent; client: C }[], verdicts: (Rejection | undefined)[]): Promise<void> {
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

  /** Ids first, so the signature backend only sees events whose id commits to the content. */
  async function verify(events: NostrEvent[]): Promise<(Rejection | undefined)[]> {
    const verdicts: (Rejection | undefined)[] = events.map((e) =>
      opts.verifier.hash(e) === e.id ? undefined : invalid('event id does not match its content'),
    )
    const toCheck = events.filter((_, i) => verdicts[i] === undefined)
    const v = opts.verifier
    // Every chunk in flight may be on the thread, which leaves this one free for parsing, the
    // writer and OKs; a thread slow to answer (on a busy machine it may wait long for a core)
    // gets no more, and the chunk is checked here, so this thread never idles behind it.
    const starved = onThread > 0 && clock() - threadSince > THREAD_STARVED_MS + onThreadEvents * THREAD_MS_PER_EVENT
    if (!v.checkManyAsync || toCheck.length < MIN_OFF_THREAD || starved) return apply(verdicts, v.checkMany(toCheck))
    if (onThread++ === 0) threadSince = clock()
    onThreadEvents += toCheck.length
    try {
      return apply(verdicts, await v.checkManyAsync(toCheck))
    } catch (err) {
      opts.log.error('ingester: signature check failed', err)
      return verdicts.map((v) => v ?? error('could not verify the signature; try again'))
    } finally {
      onThread--
      onThreadEvents -= toCheck.length
      threadSince = clock()
    }
  }

  function apply(verdicts: (Rejection | undefined)[], good: boolean[]): (Rejection | undefined)[] {
    let j = 0
    for (let i = 0; i < verdicts.length; i++) {
      if (verdicts[i] === undefined && !good[j++]) verdicts[i] = invalid('bad signature')
    }
    return verdicts
  }

  return {
    push(payload, client) {
      const shape = validateEventShape(payload)
      if (shape) return opts.reject(client, getPayloadId(payload), shape)
      queue.push({ event: payload as NostrEvent, client })
      schedule()
    },
    drain() {
      if (inFlight === 0 && queue.length === 0) return Promise.resolve()
      return new Promise<void>((resolve) => idle.push(resolve))
    },
    get pending() {
      return queue.length + inFlightEvents
    },
  }
}
