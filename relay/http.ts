import { readFile, realpath, stat } from 'node:fs/promises'
import { basename, extname, join, resolve, sep } from 'node:path'
import type { HttpRequest, HttpResponse } from './socket.ts'

/**
 * Plain HTTP on the relay's port: NIP-11 for `Accept: application/nostr+json` (with CORS, since
 * web clients such as zap.stream fetch it from their own origin), `/health`, and the web client's
 * static files when a directory is configured.
 */
export interface HttpOptions {
  /** The NIP-11 document, serialized. Called per request so extensions may change it. */
  info(): string
  health(): Record<string, unknown>
  staticDir: string | undefined
}

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': '*',
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
}

const text = (status: number, body: string, headers: Record<string, string> = {}): HttpResponse => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
  body,
})

export function createHttpHandler(opts: HttpOptions): (req: HttpRequest) => Promise<HttpResponse> {
  const root = opts.staticDir === undefined ? undefined : resolve(opts.staticDir)

  return async (req) => {
    if (req.method === 'OPTIONS') return { status: 204, headers: { ...CORS, 'access-control-max-age': '86400' } }
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed\n', { allow: 'GET, HEAD, OPTIONS' })
    if (req.path === '/' && (req.headers.accept ?? '').includes('application/nostr+json')) {
      return { status: 200, headers: { ...CORS, 'content-type': 'application/nostr+json', vary: 'accept' }, body: opts.info() }
    }
    if (req.path === '/health') {
      return { status: 200, headers: { ...CORS, 'content-type': 'application/json', 'cache-control': 'no-store' }, body: JSON.stringify(opts.health()) }
    }
    if (root !== undefined) {
      const file = await findStaticFile(root, req)
      if (file) return file
    } else if (req.path === '/') {
      return text(200, 'This is a Nostr relay (Relaycast). Connect with a Nostr client over WebSocket.\n', { vary: 'accept' })
    }
    return text(404, 'not found\n')
  }
}

const IMMUTABLE = 'public, max-age=31536000, immutable'

/**
 * Build outputs named `<name>-<hash>.<ext>` (scripts/build-client.js: esbuild's 8-character
 * content hash) never change: a new build writes new names, and index.html (no-cache) points at them.
 */
export function isHashedAsset(path: string): boolean {
  return /-[A-Z0-9]{8}\.(js|mjs|css|wasm|woff2|png|svg|webp|jpg)$/.test(basename(path))
}

/**
 * A file under `root` for the request path, or undefined. Paths are decoded once and resolved,
 * and the real path (symlinks followed) must stay inside the real root: `..`, encoded slashes
 * and links out of the directory all fail. Unknown extension-less paths get index.html so the
 * web app's own routes load.
 */
async function findStaticFile(root: string, req: HttpRequest): Promise<HttpResponse | undefined> {
  let decoded: string
  try {
    decoded = decodeURIComponent(req.path)
  } catch {
    return text(400, 'bad path\n') // malformed %-escape
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return text(400, 'bad path\n')
  const candidates = [resolve(join(root, decoded))]
  if (decoded.endsWith('/')) candidates.splice(0, 1, join(candidates[0], 'index.html'), join(root, 'index.html'))
  else if (extname(decoded) === '') candidates.push(join(candidates[0], 'index.html'), join(root, 'index.html'))
  const realRoot = await realpath(root).catch(() => undefined)
  if (realRoot === undefined) return undefined
  for (const candidate of candidates) {
    const real = await realpath(candidate).catch(() => undefined)
    if (real === undefined || (real !== realRoot && !real.startsWith(realRoot + sep))) continue
    const info = await stat(real)
    if (!info.isFile()) continue
    const type = MIME[extname(real).toLowerCase()] ?? 'application/octet-stream'
    const cache = type.startsWith('text/html') ? 'no-cache' : isHashedAsset(real) ? IMMUTABLE : 'public, max-age=3600'
    return { status: 200, headers: { 'content-type': type, 'cache-control': cache }, body: await readFile(real) }
  }
  return undefined
}
