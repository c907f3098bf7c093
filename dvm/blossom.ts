import { createHash } from 'node:crypto'
import { once } from 'node:events'
import { constants, createReadStream } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { pipeline } from 'node:stream'
// Only the local storage: the package root and its sqlite metadata need better-sqlite3's native build.
import { LocalStorage } from 'blossom-server-sdk/storage/local'
import type { Log } from '../ingest/types.ts'

/**
 * An embedded, read-only Blossom server (BUD-01) for recordings: blobs kept by blossom-server-sdk's
 * LocalStorage, served at `GET|HEAD /<sha256>[.ext]` on the DVM's HTTP port with CORS, the stored
 * MIME type (whatever extension was asked for), single byte ranges (players seek), immutable
 * caching and an ETag (the name is the content's hash). Only exact 64-hex names reach the store:
 * the SDK matches blobs by prefix, and nothing else can name a file. No uploads (BUD-02): blobs
 * come from the DVM itself.
 */

export const BLOB_PATH = /^\/([0-9a-f]{64})(?:\.[A-Za-z0-9]{1,10})?$/
const SHA256 = /^[0-9a-f]{64}$/
const EXTENSIONS: Readonly<Record<string, string>> = { 'video/mp4': 'mp4', 'audio/mp4': 'm4a' }
export const CACHE_BLOB = 'public, max-age=31536000, immutable'

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'Accept-Ranges, Content-Length, Content-Range, Content-Type, ETag',
  'X-Content-Type-Options': 'nosniff',
}

export interface BlobInfo {
  sha256: string
  size: number
  type: string
  /** Where a player fetches it: `<public url>/<sha256>.<ext>`. */
  url: string
}

export interface BlossomOptions {
  /** Directory of the blob files (created). */
  dir: string
  /** Base of blob URLs (the DVM's public HTTP URL), read when a URL is made. */
  publicUrl: () => string
  log?: Log
  /** How long to wait for a written blob to reach its full size (default 60 s). */
  flushTimeoutMs?: number
}

export interface Blossom {
  /** Serves GET/HEAD/OPTIONS for `/<sha256>[.ext]`; returns false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean
  /** Copies a file into the store under its sha256 (a no-op when already there). */
  putFile(path: string, type: string): Promise<BlobInfo>
  has(sha256: string): Promise<boolean>
  url(sha256: string, type?: string): string
}

/** A `Range` header against a blob of `size` bytes: one range, 'unsatisfiable' (416), or undefined (send it all). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  // Several ranges, other units, nonsense: a server may ignore Range and send the whole blob.
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(m[1])
  if (m[2] !== '' && Number(m[2]) < start) return undefined // invalid: ignored
  if (start >= size) return 'unsatisfiable'
  return { start, end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) }
}

export async function createBlossom(options: BlossomOptions): Promise<Blossom> {
  const log: Log = options.log ?? (() => {})
  const storage = new LocalStorage(options.dir)
  await storage.setup()

  /** The stored file of a blob, matched exactly (the SDK's own lookup takes any prefix). */
  const fileOf = (sha256: string): string | undefined => storage.files.find((f) => f === sha256 || f.startsWith(`${sha256}.`))
  const has = async (sha256: string): Promise<boolean> => SHA256.test(sha256) && fileOf(sha256) !== undefined && (await storage.hasBlob(sha256))
  const url = (sha256: string, type?: string): string => {
    const ext = type !== undefined ? EXTENSIONS[type] : undefined
    return `${options.publicUrl()}/${sha256}${ext ? `.${ext}` : ''}`
  }

  async function putFile(path: string, type: string): Promise<BlobInfo> {
    const hash = createHash('sha256')
    const reader = createReadStream(path)
    for await (const chunk of reader) hash.update(chunk as Buffer)
    const sha256 = hash.digest('hex')
    const size = (await stat(path)).size
    if (!(await has(sha256))) {
      const source = createReadStream(path)
      const failed = once(source, 'error').then(([err]) => {
        throw new Error(`reading ${path} for the blob store failed: ${(err as Error).message}`, { cause: err })
      })
      await Promise.race([storage.writeBlob(sha256, source, type), failed])
      // The SDK resolves when the source ends, not when its file is flushed: wait for the bytes.
      const deadline = Date.now() + (options.flushTimeoutMs ?? 60_000)
      while ((await storage.getBlobSize(sha256).catch(() => -1)) !== size) {
        if (Date.now() > deadline) throw new Error(`blob ${sha256} did not reach ${size} bytes`)
        await new Promise((r) => setTimeout(r, 20))
      }
      log('info', 'blob stored', { sha256, size, type })
    }
    const stored = (await storage.getBlobType(sha256)) ?? type
    return { sha256, size, type: stored, url: url(sha256, stored) }
  }

  async function serve(req: IncomingMessage, res: ServerResponse, sha256: string): Promise<void> {
    const name = (await has(sha256)) ? fileOf(sha256) : undefined
    if (name === undefined) return send(res, 404, 'blob not found')
    let handle: FileHandle
    try {
      handle = await open(join(storage.dir, name), constants.O_RDONLY | constants.O_NOFOLLOW)
    } catch {
      return send(res, 404, 'blob not found') // removed meanwhile, or a symlink
    }
    let streaming = false
    try {
      const info = await handle.stat()
      if (!info.isFile()) return send(res, 404, 'blob not found')
      const etag = `"${sha256}"`
      const headers: Record<string, string | number> = {
        ...CORS,
        'Content-Type': (await storage.getBlobType(sha256)) ?? 'application/octet-stream',
        'Accept-Ranges': 'bytes',
        'Cache-Control': CACHE_BLOB,
        ETag: etag,
        'Last-Modified': info.mtime.toUTCString(),
      }
      if (req.headers['if-none-match']?.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
        res.writeHead(304, headers)
        return void res.end()
      }
      const range = parseRange(typeof req.headers.range === 'string' ? req.headers.range : undefined, info.size)
      if (range === 'unsatisfiable') {
        res.writeHead(416, { ...headers, 'Content-Range': `bytes */${info.size}`, 'Content-Length': 0 })
        return void res.end()
      }
      const start = range?.start ?? 0
      const end = range?.end ?? info.size - 1
      if (range) headers['Content-Range'] = `bytes ${start}-${end}/${info.size}`
      headers['Content-Length'] = Math.max(0, end - start + 1)
      res.writeHead(range ? 206 : 200, headers)
      if (req.method === 'HEAD' || info.size === 0) return void res.end()
      streaming = true
      const body = handle.createReadStream({ start, end, autoClose: true })
      // pipeline destroys the file stream (closing its handle) when the player hangs up early.
      pipeline(body, res, (err) => {
        if (err && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') log('warn', 'blob read failed', { sha256, error: err.message })
      })
    } finally {
      if (!streaming) await handle.close()
    }
  }

  return {
    handle(req, res) {
      const path = (req.url ?? '/').split('?')[0]
      const m = BLOB_PATH.exec(path)
      if (!m) return false
      if (req.method === 'OPTIONS') {
        res.writeHead(204, { ...CORS, 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Allow-Headers': 'Authorization, Range, *', 'Access-Control-Max-Age': '86400' })
        res.end()
        return true
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        send(res, 405, 'method not allowed', { Allow: 'GET, HEAD, OPTIONS' })
        return true
      }
      serve(req, res, m[1]).catch((err: Error) => {
        log('error', 'blob serving failed', { sha256: m[1], error: err.message })
        if (!res.headersSent) send(res, 500, 'internal error')
        else res.destroy()
      })
      return true
    },
    putFile,
    has,
    url,
  }
}

function send(res: ServerResponse, status: number, message: string, extra: Record<string, string> = {}): void {
  const body = `${message}\n`
  res.writeHead(status, { ...CORS, ...extra, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' })
  res.end(res.req?.method === 'HEAD' ? undefined : body)
}
