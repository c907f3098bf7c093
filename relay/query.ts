import { getEffectiveLimit, isFilterEmptyResult } from '../protocol/filter.ts'
import type { Limits } from '../protocol/limits.ts'
import { serializeEventMessage } from '../protocol/messages.ts'
import { error, rateLimited } from '../protocol/reasons.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'
import type { Client } from './client.ts'
import { notifyExtensions } from './hooks.ts'
import type { Logger, QueryRequest, RelayExtension } from './hooks.ts'
import type { RelayStore, StoredFrame } from './store-port.ts'
import { createSubscriptionIndex } from './subscriptions.ts'

/**
 * REQ, CLOSE and COUNT, and the fan-out of new events to live subscriptions. A REQ is filed in
 * the index before its stored events are read, and new events that arrive meanwhile wait in
 * `pending` until EOSE has gone out, so nothing committed during the query is missed.
 */
export interface QueryStage {
  req(client: Client, subId: string, filters: Filter[]): Promise<void>
  close(client: Client, subId: string): void
  /** Closes every subscription of a client that went away. */
  closeAll(client: Client): void
  count(client: Client, subId: string, filters: Filter[]): Promise<void>
  /** Sends a newly accepted event to every live subscription it matches. */
  fanOut(event: NostrEvent): void
  /** Live subscriptions across all clients. */
  readonly size: number
}

export interface QueryOptions {
  store: RelayStore
  limits: Limits
  extensions: readonly RelayExtension[]
  log: Logger
}

interface LiveSub {
  client: Client
  subId: string
  request: QueryRequest
  /** Events that arrived before EOSE; undefined once EOSE is sent. */
  pending: NostrEvent[] | undefined
}

const encoder = new TextEncoder()
const FRAME_END = encoder.encode(']')

const subKey = (client: Client, subId: string): string => `${client.id}\0${subId}`

export function createQueryStage(opts: QueryOptions): QueryStage {
  const index = createSubscriptionIndex<LiveSub>()
  const extensions = opts.extensions

  function unsubscribe(client: Client, subId: string): void {
    const sub = index.get(subKey(client, subId))?.target
    if (!sub) return
    index.remove(subKey(client, subId))
    client.subs.delete(subId)
    notifyExtensions(extensions, opts.log, 'subscriptionClosed', sub.request)
  }

  function isCurrent(sub: LiveSub): boolean {
    return !sub.client.closed && index.get(subKey(sub.client, sub.subId))?.target === sub
  }

  function send(sub: LiveSub, eventJson: string): void {
    sub.client.sendRaw(serializeEventMessage(sub.subId, eventJson))
  }

  /**
   * A REQ's stored events as ready EVENT frames, with their ids. The store copies each body's
   * bytes straight into its frame (no string in between); an extension that answers the
   * request itself (live-now) gives JSON texts instead.
   */
  async function readStored(req: QueryRequest): Promise<StoredFrame[]> {
    let answered: Promise<string[]> | undefined
    for (const ext of extensions) answered ??= ext.answerQuery?.(req)
    if (answered) {
      return (await answered).map((json) => ({ id: (JSON.parse(json) as NostrEvent).id, frame: encoder.encode(serializeEventMessage(req.subId, json)) }))
    }
    const filters = req.filters
      .filter((f) => !isFilterEmptyResult(f))
      .map((f) => ({ ...f, limit: getEffectiveLimit(f, opts.limits) }))
      .filter((f) => f.limit > 0)
    if (filters.length === 0) return []
    return opts.store.queryFrames(filters, encoder.encode(`["EVENT",${JSON.stringify(req.subId)},`), FRAME_END)
  }

  return {
    async req(client, subId, filters) {
      if (!client.subs.has(subId) && client.subs.size >= opts.limits.maxSubscriptions) {
        client.send(['CLOSED', subId, rateLimited(`too many open subscriptions (at most ${opts.limits.maxSubscriptions}); close one first`)])
        return
      }
      unsubscribe(client, subId) // NIP-01: a REQ with an open sub's id replaces it
      const request: QueryRequest = { client, subId, filters }
      const sub: LiveSub = { client, subId, request, pending: [] }
      index.add(subKey(client, subId), filters, sub)
      client.subs.add(subId)
      notifyExtensions(extensions, opts.log, 'subscriptionOpened', request)

      let stored: StoredFrame[]
      try {
        stored = await readStored(request)
      } catch (err) {
        opts.log.error(`query: REQ ${JSON.stringify(subId)} from client ${client.id} failed`, err)
        if (isCurrent(sub)) {
          unsubscribe(client, subId)
          client.send(['CLOSED', subId, error('the query failed; try again')])
        }
        return
      }
      if (!isCurrent(sub)) return // closed or replaced while the store was reading
      for (const { frame } of stored) {
        if (client.closed) return
        // Stored results go at the client's pace; only live fan-out may hit the drop cap.
        if (client.congested()) {
          await client.conn.drained()
          if (!isCurrent(sub)) return
        }
        client.sendRaw(frame)
      }
      client.send(['EOSE', subId])
      const pending = sub.pending ?? []
      sub.pending = undefined
      if (pending.length === 0) return
      // Rare: events committed while the query ran may also be among its results.
      const sent = new Set(stored.map(({ id }) => id))
      for (const event of pending) if (!sent.has(event.id)) send(sub, JSON.stringify(event))
    },

    close: unsubscribe,

    closeAll(client) {
      for (const subId of [...client.subs]) unsubscribe(client, subId)
    },

    async count(client, subId, filters) {
      try {
        const request: QueryRequest = { client, subId, filters }
        let answered: Promise<number> | undefined
        for (const ext of extensions) answered ??= ext.answerCount?.(request)
        const count = await (answered ?? opts.store.count(filters.filter((f) => !isFilterEmptyResult(f))))
        client.send(['COUNT', subId, { count }])
      } catch (err) {
        opts.log.error(`query: COUNT ${JSON.stringify(subId)} from client ${client.id} failed`, err)
        client.send(['CLOSED', subId, error('the count failed; try again')])
      }
    },

    fanOut(event) {
      const matches = index.match(event)
      if (matches.length === 0) return
      const json = JSON.stringify(event)
      // Most subscribers of one stream use the same sub id: encode each distinct frame once.
      const frames = new Map<string, Uint8Array>()
      for (const { target } of matches) {
        if (target.pending) {
          target.pending.push(event)
          continue
        }
        let frame = frames.get(target.subId)
        if (!frame) frames.set(target.subId, (frame = encoder.encode(serializeEventMessage(target.subId, json))))
        target.client.sendRaw(frame)
      }
    },

    get size() {
      return index.size
    },
  }
}
