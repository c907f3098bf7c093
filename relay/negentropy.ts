import type { ClientMessage } from '../protocol/messages.ts'
import { blocked, error, invalid, rateLimited } from '../protocol/reasons.ts'
import type { Filter } from '../protocol/types.ts'
import type { Client } from './client.ts'
import type { Config } from './config.ts'
import type { RelayApi, RelayExtension } from './hooks.ts'
import { NegentropyResponder, NegentropyStorageVector } from './negentropy-responder.ts'
import type { RelayStore } from './store-port.ts'

/**
 * NIP-77 negentropy sync, the relay's side. NEG-OPEN loads (created_at, id) of the stored events
 * matching its filter and answers as the responder (negentropy-responder.ts); NEG-MSG continues;
 * NEG-CLOSE and a disconnect free the session. A session holds its records in memory, so their
 * number and the sessions per connection are capped.
 */

/** Largest frame we send, in bytes before hex: ~120 kB on the wire, under the usual 128 KiB caps. */
export const FRAME_SIZE_LIMIT = 60_000

export type NegentropySettings = Pick<Config, 'negentropyMaxRecords' | 'negentropyMaxSessions'>

export interface NegentropyRecord {
  created_at: number
  id: string
}

/** A session is in the map from NEG-OPEN on; `neg` is set once its records are loaded. */
interface Session {
  neg?: NegentropyResponder
}

export interface NegentropyExtension extends RelayExtension {
  /** Open sessions across all connections. */
  readonly sessionCount: number
}

export function createNegentropyExtension(settings: NegentropySettings): NegentropyExtension {
  const { negentropyMaxRecords: maxRecords, negentropyMaxSessions: maxSessions } = settings
  const sessions = new Map<number, Map<string, Session>>()
  let api: RelayApi | undefined

  const isCurrent = (client: Client, subId: string, session: Session): boolean => sessions.get(client.id)?.get(subId) === session

  function end(client: Client, subId: string): void {
    const own = sessions.get(client.id)
    own?.delete(subId)
    if (own?.size === 0) sessions.delete(client.id)
  }

  function fail(client: Client, subId: string, reason: string): void {
    end(client, subId)
    client.send(['NEG-ERR', subId, reason])
  }

  /** One step of the protocol; a message the reconciler cannot read ends the session. */
  function reply(client: Client, subId: string, neg: NegentropyResponder, message: string): void {
    let out: string
    try {
      out = neg.reconcile(message)
    } catch (err) {
      return fail(client, subId, invalid(`bad negentropy message: ${err instanceof Error ? err.message : String(err)}`))
    }
    client.send(['NEG-MSG', subId, out])
  }

  async function open(client: Client, subId: string, filter: Filter, message: string): Promise<void> {
    if (client.closed) return
    if (!api) return client.send(['NEG-ERR', subId, error('the relay is starting; try again')])
    let own = sessions.get(client.id)
    own?.delete(subId) // NIP-77: a NEG-OPEN for an open id replaces that session
    if (own && own.size >= maxSessions) {
      return client.send(['NEG-ERR', subId, rateLimited(`too many negentropy sessions (at most ${maxSessions}); send NEG-CLOSE for one first`)])
    }
    if (!own) sessions.set(client.id, (own = new Map()))
    const session: Session = {}
    own.set(subId, session)

    let storage: NegentropyStorageVector | TooManyRecords
    try {
      storage = await loadNegentropyStorage(api.store, filter, maxRecords)
    } catch (err) {
      api.log.error(`negentropy: NEG-OPEN ${JSON.stringify(subId)} from client ${client.id} failed`, err)
      if (isCurrent(client, subId, session)) fail(client, subId, error('the query failed; try again'))
      return
    }
    if (!isCurrent(client, subId, session)) return // closed, replaced or disconnected meanwhile
    if (storage instanceof TooManyRecords) {
      return fail(client, subId, blocked(`too many records: more than ${maxRecords} events match; narrow the filter (since/until, authors, kinds)`))
    }
    session.neg = new NegentropyResponder(storage, FRAME_SIZE_LIMIT)
    reply(client, subId, session.neg, message)
  }

  function next(client: Client, subId: string, message: string): void {
    const session = sessions.get(client.id)?.get(subId)
    // NIP-77 suggests `closed:` for a session the relay no longer has.
    if (!session) return client.send(['NEG-ERR', subId, 'closed: no open negentropy session with this id'])
    if (!session.neg) return fail(client, subId, invalid('NEG-MSG sent before the relay answered NEG-OPEN'))
    reply(client, subId, session.neg, message)
  }

  return {
    name: 'negentropy',
    supportedNips: [77],
    info: {
      negentropy: {
        description: 'NIP-77 sync; a NEG-OPEN whose filter matches more than max_records events is refused',
        max_records: maxRecords,
        max_sessions_per_connection: maxSessions,
      },
    },
    messages: {
      'NEG-OPEN': (msg: ClientMessage, client: Client) => {
        if (msg[0] === 'NEG-OPEN') return open(client, msg[1], msg[2], msg[3])
      },
      'NEG-MSG': (msg: ClientMessage, client: Client) => {
        if (msg[0] === 'NEG-MSG') next(client, msg[1], msg[2])
      },
      'NEG-CLOSE': (msg: ClientMessage, client: Client) => {
        if (msg[0] === 'NEG-CLOSE') end(client, msg[1])
      },
    },
    clientClosed(client) {
      sessions.delete(client.id)
    },
    start(relayApi) {
      api = relayApi
    },
    stop() {
      sessions.clear()
    },
    get sessionCount() {
      let n = 0
      for (const own of sessions.values()) n += own.size
      return n
    },
  }
}

/** More events match than a session may hold. */
export class TooManyRecords {
  constructor(readonly max: number) {}
}

/**
 * The sealed negentropy set of the stored events matching `filter` (its `limit` honoured), or
 * TooManyRecords when more than `max` match. Reads at most max + 1 events.
 */
export async function loadNegentropyStorage(
  store: Pick<RelayStore, 'queryRaw'>,
  filter: Filter,
  max: number,
): Promise<NegentropyStorageVector | TooManyRecords> {
  const cap = filter.limit !== undefined && filter.limit <= max ? filter.limit : max + 1
  const rows = await store.queryRaw([{ ...filter, limit: cap }])
  if (rows.length > max) return new TooManyRecords(max)
  const storage = new NegentropyStorageVector()
  for (const json of rows) {
    const record = getNegentropyRecord(json)
    if (!record) throw new Error(`store returned an unreadable event: ${json.slice(0, 80)}`)
    storage.insert(record.created_at, record.id)
  }
  storage.seal()
  return storage
}

// The stores write events in NIP-01 field order, so id and created_at sit at fixed offsets.
const ID_START = '{"id":"'.length
const PUBKEY_AT = ID_START + 64
const CREATED_AT_AT = PUBKEY_AT + '","pubkey":"'.length + 64
const CREATED_AT_KEY = '","created_at":'
const HEX64 = /^[0-9a-f]{64}$/

/** created_at and id of an event's JSON: read in place when in NIP-01 field order, else parsed. */
export function getNegentropyRecord(json: string): NegentropyRecord | undefined {
  if (json.startsWith('{"id":"') && json.startsWith('","pubkey":"', PUBKEY_AT) && json.startsWith(CREATED_AT_KEY, CREATED_AT_AT)) {
    const from = CREATED_AT_AT + CREATED_AT_KEY.length
    const to = json.indexOf(',', from)
    const created_at = Number(json.slice(from, to))
    const id = json.slice(ID_START, PUBKEY_AT)
    if (to > from && Number.isSafeInteger(created_at) && created_at >= 0 && HEX64.test(id)) return { created_at, id }
  }
  let event: unknown
  try {
    event = JSON.parse(json)
  } catch {
    return undefined // not JSON: the caller reports it
  }
  const { id, created_at } = (event ?? {}) as { id?: unknown; created_at?: unknown }
  if (typeof id !== 'string' || !HEX64.test(id) || !Number.isSafeInteger(created_at) || (created_at as number) < 0) return undefined
  return { created_at: created_at as number, id }
}
