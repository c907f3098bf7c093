import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'
import { frameText, frameTexts } from './ws-frame.ts'

/**
 * The transport, and nothing else: WebSocket connections and plain HTTP on one port. The rest of
 * the relay sees only these interfaces, so another server (uWebSockets.js) can be dropped in.
 */
export interface Connection {
  readonly id: number
  /** The client's address (the first X-Forwarded-For hop when the proxy is trusted). */
  readonly ip: string
  /** The Host header of the upgrade request: which name the client used to reach us. */
  readonly host: string
  /**
   * A text message; bytes must be UTF-8 and stay unchanged (one buffer may go to many
   * connections, framed once). Messages of one tick leave together, in order, after it.
   */
  send(text: string | Uint8Array): void
  /** Bytes queued for this client but not yet written to the socket. */
  bufferedAmount(): number
  /** Resolves once the queued bytes have been written out (or the connection is gone). */
  drained(): Promise<void>
  /** Polite close: pending messages are flushed first. */
  close(code?: number, reason?: string): void
  /** Immediate drop: used when a client does not read fast enough. */
  terminate(): void
}

export interface HttpRequest {
  method: string
  /** Path without the query string. */
  path: string
  headers: Readonly<Record<string, string | undefined>>
}

export interface HttpResponse {
  status: number
  headers: Record<string, string>
  body?: string | Uint8Array
}

export interface TransportHandlers {
  open(conn: Connection): void
  message(conn: Connection, text: string): void
  close(conn: Connection): void
  http(req: HttpRequest): Promise<HttpResponse>
}

export interface TransportOptions {
  /** Frames larger than this close the connection (code 1009) before they are buffered whole. */
  maxPayload: number
  trustProxy: boolean
  log: Pick<Console, 'error'>
}

export interface Transport {
  /** Resolves with the bound port (port 0 picks a free one). */
  listen(port: number, host: string): Promise<number>
  /** Stops accepting, closes every connection (code 1001) and waits for the server to stop. */
  close(): Promise<void>
}

const GOING_AWAY = 1001
const UNSUPPORTED_DATA = 1003
const CLOSE_GRACE_MS = 2000

function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  const forwarded = trustProxy ? req.headers['x-forwarded-for'] : undefined
  const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim()
  return first || req.socket.remoteAddress || 'unknown'
}

function flatHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(req.headers)) out[k] = Array.isArray(v) ? v.join(', ') : v
  return out
}

export function createWsTransport(handlers: TransportHandlers, opts: TransportOptions): Transport {
  let nextId = 1
  const sockets = new Set<WebSocket>()

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    handlers
      .http({ method: req.method ?? 'GET', path: url.pathname, headers: flatHeaders(req) })
      .then((r) => {
        res.writeHead(r.status, r.headers)
        res.end(req.method === 'HEAD' ? undefined : r.body)
      })
      .catch((err: unknown) => {
        opts.log.error('http: handler failed', err)
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
        res.end('internal error')
      })
  })
  const wss = new WebSocketServer({ server, maxPayload: opts.maxPayload, perMessageDeflate: false })

  /**
   * Outgoing messages are framed here (ws-frame.ts) and held per connection until the tick is
   * done; then each connection gets one socket write, however many messages it had (a REQ's
   * stored events, a batch's OKs). ws still reads frames, answers pings and closes.
   */
  const dirty: (() => void)[] = []
  const flushAll = (): void => {
    for (const flush of dirty.splice(0)) flush()
  }
  /** A fan-out hands every subscriber the same bytes: frame them once. */
  let lastPayload: Uint8Array | undefined
  let lastFrame: Buffer | undefined
  const frameOf = (payload: Uint8Array): Buffer => {
    if (payload !== lastPayload) {
      lastPayload = payload
      lastFrame = frameText(payload)
    }
    return lastFrame as Buffer
  }

  wss.on('connection', (ws: WebSocket, req: IncomingMessage) => {
    sockets.add(ws)
    const socket = req.socket
    let pending: Uint8Array[] = []
    let pendingBytes = 0
    const flush = (): void => {
      if (pending.length === 0) return
      const payloads = pending
      pending = []
      pendingBytes = 0
      // A connection closing meanwhile (ws saw a close or an error) takes nothing more.
      if (ws.readyState !== ws.OPEN || socket.destroyed) return
      socket.write(payloads.length === 1 ? frameOf(payloads[0]) : frameTexts(payloads))
    }
    const conn: Connection = {
      id: nextId++,
      ip: clientIp(req, opts.trustProxy),
      host: req.headers.host ?? '',
      send: (text) => {
        if (ws.readyState !== ws.OPEN) return
        const payload = typeof text === 'string' ? Buffer.from(text, 'utf8') : text
        pending.push(payload)
        pendingBytes += payload.length
        if (pending.length > 1) return
        if (dirty.length === 0) process.nextTick(flushAll)
        dirty.push(flush)
      },
      bufferedAmount: () => ws.bufferedAmount + pendingBytes,
      drained: () => {
        flush() // what is held for this tick counts as queued, and must be on its way to drain
        return new Promise<void>((resolve) => {
          if (socket.writableLength === 0 || socket.destroyed) return resolve()
          const done = (): void => {
            socket.off('drain', done)
            socket.off('close', done)
            resolve()
          }
          socket.on('drain', done)
          socket.on('close', done)
        })
      },
      close: (code, reason) => {
        flush()
        ws.close(code, reason)
      },
      terminate: () => ws.terminate(),
    }
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(UNSUPPORTED_DATA, 'binary frames are not nostr messages')
      guard('message', () => handlers.message(conn, data.toString()))
    })
    // ws emits 'error' for a client's protocol violation (oversized frame…) and then 'close',
    // which cleans up; logging it would let any client fill the log.
    ws.on('error', () => undefined)
    ws.on('close', () => {
      sockets.delete(ws)
      guard('close', () => handlers.close(conn))
    })
    guard('open', () => handlers.open(conn))
  })

  // Last line of defence: a throwing listener would otherwise take the whole process down.
  function guard(what: string, fn: () => void): void {
    try {
      fn()
    } catch (err) {
      opts.log.error(`transport: ${what} handler failed`, err)
    }
  }

  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject)
        server.listen(port, host, () => {
          server.off('error', reject)
          resolve((server.address() as AddressInfo).port)
        })
      }),
    async close() {
      flushAll()
      const closed = [...sockets].map((ws) => new Promise((resolve) => ws.once('close', resolve)))
      for (const ws of sockets) ws.close(GOING_AWAY, 'relay shutting down')
      // Clients that do not answer the close handshake promptly are cut.
      const cut = setTimeout(() => sockets.forEach((ws) => ws.terminate()), CLOSE_GRACE_MS)
      await Promise.all(closed)
      clearTimeout(cut)
      await new Promise<void>((resolve) => wss.close(() => resolve()))
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
