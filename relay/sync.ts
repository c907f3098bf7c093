import WebSocket from 'ws'
import type { Filter } from '../protocol/types.ts'
import type { RelayApi } from './hooks.ts'
import { getPayloadId } from './ingester.ts'
import { FRAME_SIZE_LIMIT, TooManyRecords, loadNegentropyStorage } from './negentropy.ts'
import { Negentropy } from './negentropy-responder.ts'

/**
 * Relay-to-relay sync over NIP-77: reconcile this relay's events matching a filter with a remote
 * relay's, fetch what we lack by id (REQ) and write it through our own pipeline — ids and
 * signatures checked, write policies applied — then send the remote what it lacks (EVENT), which
 * its pipeline judges the same way. Work goes in batches; re-running after a partial sync is safe.
 */

export interface SyncOptions {
  signal?: AbortSignal
  /** Ids per REQ, and events in flight per write round (default 250). */
  batchSize?: number
  /** Also send the remote the events it lacks (default true). */
  push?: boolean
  /** Longest wait for any one answer from either relay, in ms (default 30 s). */
  timeoutMs?: number
}

export interface SyncResult {
  /** Ids only the remote had, and only we had. */
  needed: number
  offered: number
  /** Events our pipeline accepted, and the remote's did (`duplicate:` answers with OK true count). */
  received: number
  sent: number
  /** Needed ids the remote no longer returned (deleted or expired since the reconcile). */
  missing: number
  /** Events refused, by which side, with its reason (an older replaceable version is `duplicate:`). */
  refused: { id: string; by: 'local' | 'remote'; reason: string }[]
}

/** The sync could not run or was cut short: a refusal, a dropped connection, a timeout. */
export class SyncError extends Error {
  override readonly name = 'SyncError'
}

export const DEFAULT_SYNC_BATCH = 250
const DEFAULT_TIMEOUT_MS = 30_000

export async function syncFrom(api: RelayApi, remoteUrl: string, filter: Filter, opts: SyncOptions = {}): Promise<SyncResult> {
  const { signal, batchSize = DEFAULT_SYNC_BATCH, push = true, timeoutMs = DEFAULT_TIMEOUT_MS } = opts
  signal?.throwIfAborted()
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`)
  const remote = await connectRemote(remoteUrl, { signal, timeoutMs, log: api.log })
  const local = connectLocal(api, `sync:${remoteUrl}`, { signal, timeoutMs, log: api.log })
  const result: SyncResult = { needed: 0, offered: 0, received: 0, sent: 0, missing: 0, refused: [] }
  const tally = (by: 'local' | 'remote', answers: Answer[]): void => {
    for (const a of answers) {
      if (a.accepted) by === 'local' ? result.received++ : result.sent++
      else result.refused.push({ id: a.id, by, reason: a.reason })
    }
  }
  try {
    const { have, need } = await reconcile(api, remote, filter)
    result.needed = need.length
    result.offered = have.length

    for (let i = 0; i < need.length; i += batchSize) {
      signal?.throwIfAborted()
      const ids = need.slice(i, i + batchSize)
      const events = await fetchByIds(remote, ids)
      result.missing += ids.length - events.length
      tally('local', await publishAll(local, events.map((e) => [e.id, JSON.stringify(e)])))
    }
    if (push) {
      for (let i = 0; i < have.length; i += batchSize) {
        signal?.throwIfAborted()
        const ids = have.slice(i, i + batchSize)
        const rows = await api.store.queryRaw([{ ids, limit: ids.length }])
        // Gone since the reconcile (deleted, expired): nothing to send.
        tally('remote', await publishAll(remote, rows.map((json) => [(JSON.parse(json) as { id: string }).id, json])))
      }
    }
    return result
  } finally {
    local.close()
    remote.close()
  }
}

type Message = unknown[]

interface Answer {
  id: string
  accepted: boolean
  reason: string
}

/** One side of the sync: frames out, and the first unread frame matching a test in. */
interface Link {
  readonly name: string
  send(text: string): void
  next(pred: (m: Message) => boolean): Promise<Message>
  close(): void
}

interface LinkOptions {
  signal: AbortSignal | undefined
  timeoutMs: number
  log: Pick<Console, 'warn'>
}

let subCounter = 0
const nextSubId = (what: string): string => `sync-${what}-${++subCounter}`

/** The NIP-77 dialogue as initiator: the ids only we have and only the remote has. */
async function reconcile(api: RelayApi, remote: Link, filter: Filter): Promise<{ have: string[]; need: string[] }> {
  const max = api.config.negentropyMaxRecords
  const storage = await loadNegentropyStorage(api.store, filter, max)
  if (storage instanceof TooManyRecords) throw new SyncError(`more than ${max} local events match the filter; narrow it (since/until, authors, kinds)`)
  const neg = new Negentropy(storage, FRAME_SIZE_LIMIT)
  const have = new Set<string>()
  const need = new Set<string>()
  const subId = nextSubId('neg')
  remote.send(JSON.stringify(['NEG-OPEN', subId, filter, neg.initiate()]))
  for (;;) {
    const m = await remote.next((m) => (m[0] === 'NEG-MSG' || m[0] === 'NEG-ERR') && m[1] === subId)
    if (m[0] === 'NEG-ERR') throw new SyncError(`${remote.name} refused the sync: ${String(m[2])}`)
    let out: string | null
    try {
      out = neg.reconcile(String(m[2]), (id) => have.add(id), (id) => need.add(id))
    } catch (err) {
      remote.send(JSON.stringify(['NEG-CLOSE', subId]))
      throw new SyncError(`${remote.name} sent a bad negentropy message`, { cause: err })
    }
    if (out === null) break
    remote.send(JSON.stringify(['NEG-MSG', subId, out]))
  }
  remote.send(JSON.stringify(['NEG-CLOSE', subId]))
  return { have: [...have], need: [...need] }
}

/** The events with these ids the remote still has; anything it sends that we did not ask for is dropped. */
async function fetchByIds(remote: Link, ids: string[]): Promise<{ id: string }[]> {
  const wanted = new Set(ids)
  const got = new Map<string, { id: string }>()
  const subId = nextSubId('req')
  remote.send(JSON.stringify(['REQ', subId, { ids, limit: ids.length }]))
  for (;;) {
    const m = await remote.next((m) => m[1] === subId && (m[0] === 'EVENT' || m[0] === 'EOSE' || m[0] === 'CLOSED'))
    if (m[0] === 'EOSE') break
    if (m[0] === 'CLOSED') throw new SyncError(`${remote.name} refused to send events: ${String(m[2])}`)
    const id = getPayloadId(m[2])
    if (id && wanted.has(id)) got.set(id, m[2] as { id: string })
  }
  remote.send(JSON.stringify(['CLOSE', subId]))
  return [...got.values()]
}

/** Sends every event, then waits for each OK. `events` pairs each id with the event's JSON. */
async function publishAll(link: Link, events: [id: string, json: string][]): Promise<Answer[]> {
  for (const [, json] of events) link.send(`["EVENT",${json}]`)
  const answers: Answer[] = []
  for (const [id] of events) {
    const ok = await link.next((m) => m[0] === 'OK' && m[1] === id)
    answers.push({ id, accepted: ok[2] === true, reason: String(ok[3] ?? '') })
  }
  return answers
}

/**
 * Parsed frames wait in a queue until a `next` claims them. AUTH challenges are dropped (we only
 * read from and write to relays that do not require it) and NOTICEs logged.
 */
function createInbox(name: string, opts: LinkOptions) {
  const queue: Message[] = []
  const waiters: { pred: (m: Message) => boolean; resolve: (m: Message) => void; reject: (e: unknown) => void }[] = []
  let failure: unknown

  function fail(err: unknown): void {
    failure ??= err
    for (const w of waiters.splice(0)) w.reject(failure)
  }

  return {
    fail,
    deliver(text: string): void {
      let m: unknown
      try {
        m = JSON.parse(text)
      } catch (err) {
        return fail(new SyncError(`${name} sent a frame that is not JSON`, { cause: err }))
      }
      if (!Array.isArray(m)) return fail(new SyncError(`${name} sent a frame that is not a JSON array`))
      if (m[0] === 'AUTH') return
      if (m[0] === 'NOTICE') return opts.log.warn(`sync: NOTICE from ${name}: ${String(m[1])}`)
      const i = waiters.findIndex((w) => w.pred(m))
      if (i >= 0) waiters.splice(i, 1)[0].resolve(m)
      else queue.push(m)
    },
    next(pred: (m: Message) => boolean): Promise<Message> {
      const i = queue.findIndex(pred)
      if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0])
      if (failure !== undefined) return Promise.reject(failure)
      return new Promise((resolve, reject) => {
        const waiter = {
          pred,
          resolve: (m: Message) => {
            done()
            resolve(m)
          },
          reject: (e: unknown) => {
            done()
            reject(e)
          },
        }
        const timer = setTimeout(() => {
          const i = waiters.indexOf(waiter)
          if (i >= 0) waiters.splice(i, 1)
          waiter.reject(new SyncError(`${name} did not answer within ${opts.timeoutMs} ms`))
        }, opts.timeoutMs)
        const onAbort = (): void => fail(opts.signal?.reason)
        const done = (): void => {
          clearTimeout(timer)
          opts.signal?.removeEventListener('abort', onAbort)
        }
        opts.signal?.addEventListener('abort', onAbort, { once: true })
        waiters.push(waiter)
      })
    },
  }
}

async function connectRemote(url: string, opts: LinkOptions): Promise<Link> {
  const inbox = createInbox(url, opts)
  const ws = new WebSocket(url)
  ws.on('message', (data, isBinary) => {
    if (isBinary) return inbox.fail(new SyncError(`${url} sent a binary frame`))
    inbox.deliver(data.toString())
  })
  ws.on('close', (code) => inbox.fail(new SyncError(`${url} closed the connection (code ${code})`)))
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      ws.terminate()
      reject(opts.signal?.reason)
    }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    ws.once('open', () => {
      opts.signal?.removeEventListener('abort', onAbort)
      resolve()
    })
    ws.once('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort)
      reject(new SyncError(`could not connect to ${url}`, { cause: err }))
    })
  })
  // After open, errors end in 'close', which fails the inbox.
  ws.on('error', (err) => opts.log.warn(`sync: ${url}: ${err.message}`))
  return {
    name: url,
    send: (text) => ws.send(text),
    next: (pred) => inbox.next(pred),
    close: () => ws.close(),
  }
}

function connectLocal(api: RelayApi, ip: string, opts: LinkOptions): Link {
  const inbox = createInbox('this relay', opts)
  const conn = api.connectLocal(ip, (text) => inbox.deliver(text))
  return {
    name: 'this relay',
    send: (text) => conn.send(text),
    next: (pred) => inbox.next(pred),
    close() {
      conn.close()
      inbox.fail(new SyncError('local connection closed'))
    },
  }
}
