import { join } from 'node:path'
import { isEphemeralKind } from '../protocol/kinds.ts'
import { MessageError, parseClientMessage } from '../protocol/messages.ts'
import type { ClientMessage } from '../protocol/messages.ts'
import { error, rateLimited } from '../protocol/reasons.ts'
import type { Rejection } from '../protocol/reasons.ts'
import type { WriteResult } from '../protocol/store.ts'
import type { Clock, Filter, NostrEvent } from '../protocol/types.ts'
import { createChallenge, validateAuthEvent } from './auth.ts'
import { createClient } from './client.ts'
import type { Client } from './client.ts'
import type { Config } from './config.ts'
import { notifyExtensions, settleExtensions } from './hooks.ts'
import type { LocalConnection, Logger, RelayApi, RelayExtension } from './hooks.ts'
import { createHttpHandler } from './http.ts'
import { createIngester, getPayloadId } from './ingester.ts'
import type { Verifier } from './ingester.ts'
import { createLiveExtensions } from './live.ts'
import { createNegentropyExtension } from './negentropy.ts'
import { buildRelayInfo } from './nip11.ts'
import { createDefaultPolicies, runPolicies } from './policies.ts'
import { createQueryStage } from './query.ts'
import { loadServiceKey } from './service-key.ts'
import type { ServiceKey } from './service-key.ts'
import { createWsTransport } from './socket.ts'
import type { Connection, TransportHandlers } from './socket.ts'
import type { RelayStore } from './store-port.ts'
import { createWriter } from './writer.ts'

/**
 * The relay: transport → parse → ingester (shape, id, signature) → policies → one writer →
 * fan-out, with REQ/COUNT beside it. This file only wires the stages together and is the one
 * boundary where a message's exceptions are caught, logged and answered with `error:`.
 */
export interface Relay {
  /** Starts serving; resolves with the bound port (config.port 0 picks a free one). */
  listen(): Promise<number>
  /** Closes connections, finishes queued writes, stops extensions, closes a store it opened. */
  close(): Promise<void>
  /** ws:// URL to reach the relay (the public URL when configured); valid after listen(). */
  readonly url: string
  /** What extensions get: store, service key, publish as the relay. */
  readonly api: RelayApi
  stats(): RelayStats
}

export interface RelayStats {
  connections: number
  subscriptions: number
  pendingVerification: number
  pendingWrites: number
}

export interface RelayDeps {
  /** Defaults to the LMDB store under config.dataDir (closed by relay.close()). */
  store?: RelayStore
  /** Defaults to the fastest signature backend that loads (relay/verify). */
  verifier?: Verifier
  /** Defaults to the key kept under config.dataDir. */
  serviceKey?: ServiceKey
  /** Defaults to live-now, viewer counts, chat rules and NIP-77 negentropy; a list given here replaces the defaults. */
  extensions?: RelayExtension[]
  now?: Clock
  log?: Logger
}

/** The LMDB environment's directory inside the data directory. */
export const LMDB_DIR = 'relay-db'

export async function createRelay(config: Config, deps: RelayDeps = {}): Promise<Relay> {
  const log = deps.log ?? console
  const now = deps.now ?? (() => Math.floor(Date.now() / 1000))
  const extensions = deps.extensions ?? [...createLiveExtensions(config), createNegentropyExtension(config)]
  const ownVerifier = deps.verifier ? undefined : await loadDefaultVerifier(log, config.verifyThreads > 0)
  const verifier: Verifier = deps.verifier ?? (ownVerifier as Verifier)
  const serviceKey = deps.serviceKey ?? (await loadServiceKey(config.dataDir))
  // Opened last, so nothing above can fail and leave it open.
  const ownsStore = deps.store === undefined
  const store = deps.store ?? (await openDefaultStore(config, now, log))
  const limits = config.limits

  const policies = [...createDefaultPolicies(config), ...extensions.flatMap((e) => e.policies ?? [])]
  const writer = createWriter({ eventBatch: (events) => store.eventBatch(events), batchMax: config.writeBatchMax, batchesInFlight: config.writeBatchesInFlight, log })
  const query = createQueryStage({ store, limits, extensions, log })
  const clients = new Map<number, Client>()
  const lookup = (filters: Filter[]): Promise<NostrEvent[]> => store.query(filters)

  /** A new event is in: to live subscriptions, then to the extensions. */
  function accepted(event: NostrEvent, result: Extract<WriteResult, { ok: true }>): void {
    query.fanOut(event)
    notifyExtensions(extensions, log, 'afterCommit', event, result)
  }

  function publish(event: NostrEvent): Promise<WriteResult> {
    if (isEphemeralKind(event.kind)) {
      // Ephemeral events are relayed, never stored: no writer, no wait.
      const result = { ok: true, stored: false, reason: '', removed: [] as string[] } as const
      accepted(event, result)
      return Promise.resolve(result)
    }
    return writer.write(event).then((result) => {
      if (!result.ok || !result.stored) return result
      accepted(event, result)
      const settling = settleExtensions(extensions, log, event, result)
      return settling ? settling.then(() => result) : result
    })
  }

  /** The one answer to each EVENT a client sent (every path through the stages ends here). */
  function answer(client: Client, eventId: string | undefined, accepted: boolean, reason: string): void {
    client.pending--
    client.send(eventId ? ['OK', eventId, accepted, reason] : ['NOTICE', reason])
  }

  function route(event: NostrEvent, client: Client, rejection: Rejection | undefined): void {
    if (rejection) return answer(client, event.id, false, rejection)
    publish(event)
      .then((result) => answer(client, event.id, result.ok, result.reason))
      .catch((err: unknown) => {
        log.error(`relay: after writing ${event.id}`, err)
        answer(client, event.id, false, error('internal error after writing the event'))
      })
  }

  const ingester = createIngester<Client>({
    verifier,
    chunk: config.verifyChunk,
    log,
    reject: (client, eventId, reason) => answer(client, eventId, false, reason),
    accept(event, client) {
      const verdict = runPolicies(policies, event, { client, now: now(), query: lookup })
      if (verdict instanceof Promise) return verdict.then((r) => route(event, client, r))
      route(event, client, verdict)
    },
  })

  function authenticate(client: Client, payload: unknown): void {
    const rejection = validateAuthEvent(payload, {
      challenge: client.challenge,
      publicUrl: config.publicUrl,
      host: client.conn.host,
      now: now(),
      windowSeconds: config.authWindowSeconds,
      check: (e) => verifier.checkMany([e])[0],
    })
    const id = getPayloadId(payload)
    if (rejection) return client.send(id ? ['OK', id, false, rejection] : ['NOTICE', rejection])
    client.authed.add((payload as NostrEvent).pubkey)
    client.send(['OK', id as string, true, ''])
  }

  /** Counts a query as in progress until it ends, however it ends. */
  function track(client: Client, work: Promise<void>): Promise<void> {
    client.pending++
    return work.finally(() => client.pending--)
  }

  function dispatch(client: Client, msg: ClientMessage): void | Promise<void> {
    if (client.pending >= config.maxPendingPerConnection && (msg[0] === 'EVENT' || msg[0] === 'REQ' || msg[0] === 'COUNT')) {
      const busy = new MessageError(rateLimited(`more than ${config.maxPendingPerConnection} messages in progress; wait for answers`), {
        verb: msg[0],
        subId: typeof msg[1] === 'string' ? msg[1] : undefined,
        eventId: getPayloadId(msg[1]),
      })
      return answerRefusal(client, busy)
    }
    switch (msg[0]) {
      case 'EVENT':
        client.pending++
        return ingester.push(msg[1], client)
      case 'REQ': {
        const [, subId, ...filters] = msg
        return track(client, query.req(client, subId, filters))
      }
      case 'COUNT': {
        const [, subId, ...filters] = msg
        return track(client, query.count(client, subId, filters))
      }
      case 'CLOSE':
        return query.close(client, msg[1])
      case 'AUTH':
        return authenticate(client, msg[1])
      default: {
        const handler = extensions.find((e) => e.messages?.[msg[0]])?.messages?.[msg[0]]
        if (handler) return handler(msg, client)
        if (msg[0] !== 'NEG-CLOSE') client.send(['NEG-ERR', msg[1], 'blocked: negentropy sync is not enabled on this relay'])
      }
    }
  }

  /** The stage boundary: whatever a message causes, the client gets an answer and we go on. */
  function onMessage(client: Client, text: string): void {
    let msg: ClientMessage
    try {
      msg = parseClientMessage(text, limits)
    } catch (err) {
      if (!(err instanceof MessageError)) log.error('relay: parser failed', err)
      return answerRefusal(client, err instanceof MessageError ? err : new MessageError(error('could not read the message')))
    }
    const fail = (err: unknown): void => {
      log.error(`relay: ${msg[0]} from client ${client.id} failed`, err)
      const id = msg[0] === 'EVENT' || msg[0] === 'AUTH' ? getPayloadId(msg[1]) : undefined
      answerRefusal(client, new MessageError(error('internal error'), { verb: msg[0], subId: typeof msg[1] === 'string' ? msg[1] : undefined, eventId: id }))
    }
    try {
      const pending = dispatch(client, msg)
      if (pending instanceof Promise) pending.catch(fail)
    } catch (err) {
      fail(err)
    }
  }

  const handlers: TransportHandlers = {
    open(conn: Connection) {
      const local = conn.id < 0 // connectLocal's ids count down from -1
      const client = createClient(conn, { challenge: createChallenge(), maxBufferedBytes: config.maxBufferedBytes, log, local })
      clients.set(conn.id, client)
      client.send(['AUTH', client.challenge])
    },
    message(conn, text) {
      const client = clients.get(conn.id)
      if (client) onMessage(client, text)
    },
    close(conn) {
      const client = clients.get(conn.id)
      if (!client) return
      clients.delete(conn.id)
      client.markClosed()
      query.closeAll(client)
      notifyExtensions(extensions, log, 'clientClosed', client)
    },
    http: createHttpHandler({
      info: () => JSON.stringify(buildRelayInfo(config, serviceKey.pubkey, extensions)),
      health: () => ({ ok: true, ...stats() }),
      staticDir: config.staticDir,
    }),
  }

  const transport = createWsTransport(
    handlers,
    // Frames up to twice the cap still reach the parser, which refuses them with a reason that
    // names the event or subscription; only bigger ones are cut by the transport (code 1009).
    { maxPayload: limits.maxMessageBytes * 2, trustProxy: config.trustProxy, log },
  )

  const textDecoder = new TextDecoder()
  let localIds = 0
  /** A connection inside the process (relay-to-relay sync): the same handlers as a socket's. */
  function connectLocal(ip: string, receive: (text: string) => void): LocalConnection {
    const conn: Connection = {
      id: --localIds, // sockets count up from 1: no clash
      ip,
      host: 'local',
      send: (data) => receive(typeof data === 'string' ? data : textDecoder.decode(data)),
      bufferedAmount: () => 0,
      drained: () => Promise.resolve(),
      close: () => handlers.close(conn),
      terminate: () => handlers.close(conn),
    }
    handlers.open(conn)
    return { send: (text) => handlers.message(conn, text), close: () => handlers.close(conn) }
  }

  function stats(): RelayStats {
    return { connections: clients.size, subscriptions: query.size, pendingVerification: ingester.pending, pendingWrites: writer.pending }
  }

  const api: RelayApi = {
    config,
    store,
    pubkey: serviceKey.pubkey,
    sign: serviceKey.sign,
    publish,
    exclusive: (task) => writer.exclusive(task),
    now,
    log,
    connectLocal,
  }

  let url = ''
  let sweeper: NodeJS.Timeout | undefined
  return {
    async listen() {
      const port = await transport.listen(config.port, config.host)
      url = config.publicUrl ?? `ws://${displayHost(config.host)}:${port}`
      sweeper = setInterval(() => {
        writer.exclusive(() => store.sweepExpired()).catch((err: unknown) => log.error('relay: expiry sweep failed', err))
      }, config.sweepIntervalSeconds * 1000)
      sweeper.unref()
      for (const ext of extensions) await ext.start?.(api)
      return port
    },
    async close() {
      clearInterval(sweeper)
      for (const ext of [...extensions].reverse()) {
        await Promise.resolve(ext.stop?.()).catch((err: unknown) => log.error(`${ext.name}: stop failed`, err))
      }
      await transport.close()
      await ingester.drain()
      await writer.drain()
      await ownVerifier?.close?.()
      if (ownsStore) await store.close()
    },
    get url() {
      return url
    },
    api,
    stats,
  }
}

function answerRefusal(client: Client, err: MessageError): void {
  const { verb, subId, eventId, reason } = err
  if ((verb === 'EVENT' || verb === 'AUTH') && eventId) return client.send(['OK', eventId, false, reason])
  if ((verb === 'REQ' || verb === 'COUNT') && subId !== undefined) return client.send(['CLOSED', subId, reason])
  if ((verb === 'NEG-OPEN' || verb === 'NEG-MSG') && subId !== undefined) return client.send(['NEG-ERR', subId, reason])
  client.send(['NOTICE', reason])
}

/** A bind-all address is not one a client can dial; name the loopback instead. */
function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1'
  if (host === '::') return '[::1]'
  return host.includes(':') ? `[${host}]` : host
}

async function openDefaultStore(config: Config, now: Clock, log: Logger): Promise<RelayStore> {
  const { createLmdbStore } = await import('./store/lmdb-store.ts')
  return createLmdbStore({ path: join(config.dataDir, LMDB_DIR), now, log: { log: (line: string) => log.info(line) } })
}

async function loadDefaultVerifier(log: Logger, offThread: boolean): Promise<Verifier & { close?(): Promise<void> }> {
  const { DEFAULT_NATIVE_PATH, loadSignatureCheck } = await import('./verify/index.ts')
  const backend = await loadSignatureCheck()
  for (const s of backend.skipped) log.info(`relay: signature backend ${s.name} skipped: ${s.reason}`)
  if (!offThread || backend.name !== 'native') {
    log.info(`relay: signatures checked with ${backend.name}`)
    return backend
  }
  const { createVerifyThread } = await import('./verify/thread.ts')
  const thread = createVerifyThread(DEFAULT_NATIVE_PATH)
  log.info(`relay: signatures checked with native${backend.batched ? ' (a chunk as one sum)' : ''}, on a worker thread`)
  return { hash: backend.hash, checkMany: backend.checkMany, checkManyAsync: thread.checkManyAsync, close: thread.close }
}
