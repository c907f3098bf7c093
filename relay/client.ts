import { serializeRelayMessage } from '../protocol/messages.ts'
import type { RelayMessage } from '../protocol/messages.ts'
import type { Connection } from './socket.ts'

/** What policies and hooks may know about a connected client. */
export interface ClientInfo {
  readonly id: number
  readonly ip: string
  /** Pubkeys this connection proved with NIP-42 AUTH (a client may authenticate several). */
  readonly authed: ReadonlySet<string>
  /** A connection inside the process (RelayApi.connectLocal: relay-to-relay sync), not a socket. */
  readonly local: boolean
}

/** One connected client: its NIP-42 state, its subscriptions, and output with backpressure. */
export interface Client extends ClientInfo {
  readonly conn: Connection
  readonly challenge: string
  readonly authed: Set<string>
  /** Open subscription ids. */
  readonly subs: Set<string>
  /** Messages in progress (EVENTs awaiting their OK, REQ/COUNT queries), to bound a flood. */
  pending: number
  /** True once the connection has closed or been dropped: stages stop working for it. */
  readonly closed: boolean
  /** Sends a text frame; drops the connection if its unsent output grows past the cap. */
  sendRaw(text: string | Uint8Array): void
  send(msg: RelayMessage): void
  /** Whether output is piling up (a quarter of the cap): producers that can wait should. */
  congested(): boolean
  markClosed(): void
}

export interface ClientOptions {
  challenge: string
  /** See ClientInfo.local; default false. */
  local?: boolean
  maxBufferedBytes: number
  log: Pick<Console, 'warn'>
}

export function createClient(conn: Connection, opts: ClientOptions): Client {
  let closed = false
  const client: Client = {
    id: conn.id,
    ip: conn.ip,
    local: opts.local ?? false,
    conn,
    challenge: opts.challenge,
    authed: new Set(),
    subs: new Set(),
    pending: 0,
    get closed() {
      return closed
    },
    sendRaw(text) {
      if (closed) return
      conn.send(text)
      // A client that does not read would make us buffer without bound: cut it instead.
      if (conn.bufferedAmount() > opts.maxBufferedBytes) {
        opts.log.warn(`client ${conn.id} (${conn.ip}) dropped: more than ${opts.maxBufferedBytes} bytes unsent`)
        closed = true
        conn.terminate()
      }
    },
    send(msg) {
      client.sendRaw(serializeRelayMessage(msg))
    },
    congested: () => conn.bufferedAmount() > opts.maxBufferedBytes / 4,
    markClosed() {
      closed = true
    },
  }
  return client
}
