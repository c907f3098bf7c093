import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream'
import { join } from 'node:path'
import type { Log } from '../ingest/types.ts'
import { hasEndList, readDiscontinuities, withDiscontinuitySequence } from './playlist.ts'

/**
 * The HLS origin: serves `<root>/<streamId>/<file>` at `/hls/<streamId>/<file>`, read-only, with
 * what an HTTP cache or CDN in front needs: exact MIME types, CORS for any page, playlists
 * cacheable for a second (live) or an hour (ended), segments immutable (their names are never
 * reused). Only flat names of known media types are served: no directory listings, no dot files,
 * no traversal, encoded or not, no symlinks. It also counts distinct viewers per stream.
 */

export const STREAM_ID = /^[A-Za-z0-9_-]{1,128}$/
const FILE = /^[A-Za-z0-9_-]{1,128}\.(m3u8|ts|aac|m4s|mp4)$/

export const MIME_TYPES: Readonly<Record<string, string>> = Object.freeze({
  m3u8: 'application/vnd.apple.mpegurl',
  ts: 'video/mp2t',
  aac: 'audio/aac',
  m4s: 'video/iso.segment',
  mp4: 'video/mp4',
})

export const CACHE_LIVE_PLAYLIST = 'public, max-age=1'
export const CACHE_ENDED_PLAYLIST = 'public, max-age=3600'
export const CACHE_SEGMENT = 'public, max-age=31536000, immutable'

export interface OriginOptions {
  /** Directory holding one directory per stream id. */
  root: string
  /** URL prefix (default '/hls/'). */
  prefix?: string
  /** A viewer counts while seen within this many ms (default 30 s). */
  viewerWindowMs?: number
  /** Take the viewer's address from X-Forwarded-For (only behind a proxy you run). */
  trustProxy?: boolean
  now?: () => number
  log?: Log
}

export interface Origin {
  /** Serves the request if its path is under the prefix; returns false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean
  /** Distinct viewers (address + user agent) of a stream within the window. */
  viewers(streamId: string): number
  /** Drops a stream's viewer records (it ended). */
  forget(streamId: string): void
}

export function createOrigin(options: OriginOptions): Origin {
  const prefix = options.prefix ?? '/hls/'
  const windowMs = options.viewerWindowMs ?? 30_000
  const now = options.now ?? Date.now
  const log: Log = options.log ?? (() => {})
  const seen = new Map<string, Map<string, number>>()

  function noteViewer(streamId: string, req: IncomingMessage): void {
    const forwarded = options.trustProxy ? String(req.headers['x-forwarded-for'] ?? '').split(',')[0].trim() : ''
    const address = forwarded || req.socket.remoteAddress || ''
    const id = createHash('sha256').update(`${address}\n${req.headers['user-agent'] ?? ''}`).digest('base64url').slice(0, 16)
    let viewers = seen.get(streamId)
    if (!viewers) seen.set(streamId, (viewers = new Map()))
    viewers.delete(id) // re-insert: the map stays ordered oldest-seen first
    viewers.set(id, now())
    prune(viewers)
  }

  function prune(viewers: Map<string, number>): void {
    const cutoff = now() - windowMs
    for (const [id, at] of viewers) {
      if (at >= cutoff) break
      viewers.delete(id)
    }
  }

  async function serve(req: IncomingMessage, res: ServerResponse, streamId: string, file: string): Promise<void> {
    const dir = join(options.root, streamId)
    const dirStat = await stat(dir).catch(() => undefined)
    if (!dirStat?.isDirectory()) return send(res, 404, 'unknown stream')

    let handle: FileHandle
    try {
      handle = await open(join(dir, file), constants.O_RDONLY | constants.O_NOFOLLOW)
    } catch {
      return send(res, 404, 'not found') // absent, or a symlink: either way nothing to serve
    }
    let streaming = false
    try {
      const info = await handle.stat()
      if (!info.isFile()) return send(res, 404, 'not found')
      noteViewer(streamId, req)
      const ext = file.slice(file.lastIndexOf('.') + 1)
      const headers: Record<string, string | number> = {
        'Content-Type': MIME_TYPES[ext],
        'Last-Modified': info.mtime.toUTCString(),
      }
      if (ext === 'm3u8') {
        let text = await handle.readFile('utf8')
        if (file !== 'master.m3u8') {
          const starts = (await readDiscontinuities(dir))[file.slice(0, -'.m3u8'.length)] ?? []
          text = withDiscontinuitySequence(text, starts)
        }
        const body = Buffer.from(text)
        headers['Cache-Control'] = hasEndList(text) ? CACHE_ENDED_PLAYLIST : CACHE_LIVE_PLAYLIST
        headers['Content-Length'] = body.length
        res.writeHead(200, { ...CORS, ...headers })
        res.end(req.method === 'HEAD' ? undefined : body)
        return
      }
      headers['Cache-Control'] = CACHE_SEGMENT
      headers['Content-Length'] = info.size
      res.writeHead(200, { ...CORS, ...headers })
      if (req.method === 'HEAD') return void res.end()
      if (info.size === 0) return void res.end()
      streaming = true
      const body = handle.createReadStream({ start: 0, end: info.size - 1, autoClose: true })
      // pipeline destroys the file stream (closing its handle) when the player hangs up early.
      pipeline(body, res, (err) => {
        if (err && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') log('warn', 'segment read failed', { stream: streamId, file, error: err.message })
      })
    } finally {
      if (!streaming) await handle.close()
    }
  }

  return {
    handle(req, res) {
      const url = req.url ?? '/'
      const path = url.split('?')[0]
      if (!path.startsWith(prefix)) return false
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { ...CORS, 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Max-Age': '86400' })
        res.end()
        return true
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, 'method not allowed', { Allow: 'GET, HEAD, OPTIONS' })
        return true
      }
      const target = parseHlsPath(path.slice(prefix.length))
      if (target === 'bad') send(res, 400, 'bad request')
      else if (!target) send(res, 404, 'not found')
      else
        serve(req, res, target.streamId, target.file).catch((err: Error) => {
          log('error', 'origin failed', { stream: target.streamId, file: target.file, error: err.message })
          if (!res.headersSent) send(res, 500, 'internal error')
          else res.destroy()
        })
      return true
    },
    viewers(streamId) {
      const viewers = seen.get(streamId)
      if (!viewers) return 0
      prune(viewers)
      if (viewers.size === 0) seen.delete(streamId)
      return viewers.size
    },
    forget(streamId) {
      seen.delete(streamId)
    },
  }
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Content-Length, Content-Type',
  'X-Content-Type-Options': 'nosniff',
}

function send(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  const body = `${message}\n`
  res.writeHead(status, {
    ...CORS,
    ...extra,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    // Short, so a cache does not pin a 404 for a stream that is about to start.
    'Cache-Control': 'no-store',
  })
  res.end(res.req?.method === 'HEAD' ? undefined : body)
}

/**
 * `<streamId>/<file>` after the prefix → its parts, undefined for anything else (404), 'bad' for
 * an undecodable path (400). Names are checked after decoding, so `%2e%2e%2f` is no way around.
 */
export function parseHlsPath(rest: string): { streamId: string; file: string } | undefined | 'bad' {
  const parts = rest.split('/')
  if (parts.length !== 2) return undefined
  let streamId: string
  let file: string
  try {
    streamId = decodeURIComponent(parts[0])
    file = decodeURIComponent(parts[1])
  } catch {
    return 'bad' // malformed percent-encoding
  }
  if (!STREAM_ID.test(streamId) || !FILE.test(file)) return undefined
  return { streamId, file }
}

export interface OriginServer {
  port: number
  server: Server
  close(): Promise<void>
}

/** A plain HTTP server for the origin alone. */
export function listenOrigin(origin: Origin, port: number, host = '127.0.0.1'): Promise<OriginServer> {
  return listenHttp([origin.handle], port, host)
}

/** One HTTP server for several handlers (HLS origin, Blossom), asked in order; 404 when none takes it. */
export async function listenHttp(handlers: ReadonlyArray<(req: IncomingMessage, res: ServerResponse) => boolean>, port: number, host = '127.0.0.1'): Promise<OriginServer> {
  const server = createServer((req, res) => {
    if (!handlers.some((handle) => handle(req, res))) send(res, 404, 'not found')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
