import { execFile } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'

/**
 * Checks `relaycast start` makes before it opens anything, so that the three common failures get
 * one plain sentence (what, which, how to fix) and their own exit code instead of a stack trace.
 */

/** Exit codes of `relaycast start` (documented in --help and the README). */
export const EXIT = {
  ok: 0,
  failed: 1,
  badOption: 2,
  ffmpegMissing: 3,
  portInUse: 4,
  dataDirUnwritable: 5,
} as const

export class StartError extends Error {
  override readonly name = 'StartError'
  constructor(
    message: string,
    readonly exitCode: number,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** One listener start will open, with the flag and variable that move it. */
export interface Listener {
  what: string
  port: number
  host: string
  flag: string
  env: string
}

/** ffmpeg and ffprobe answer `-version`; otherwise how to install them. */
export async function checkFfmpeg(env: NodeJS.ProcessEnv): Promise<void> {
  for (const binary of ['ffmpeg', 'ffprobe']) {
    const failure = await new Promise<NodeJS.ErrnoException | null>((done) => execFile(binary, ['-hide_banner', '-version'], { env, timeout: 15_000 }, (err) => done(err as NodeJS.ErrnoException | null)))
    if (failure === null) continue
    const why = failure.code === 'ENOENT' ? 'was not found on PATH' : `did not run (${failure.message.split('\n')[0]})`
    throw new StartError(
      `${binary} ${why}. Relaycast transcodes with ffmpeg: install it with \`apt-get install ffmpeg\` (Debian/Ubuntu; or \`bash scripts/setup.sh\`), then start again.`,
      EXIT.ffmpegMissing,
      { cause: failure },
    )
  }
}

/** Creates the data directory if needed and proves a file can be written in it. */
export async function checkDataDir(dir: string): Promise<void> {
  const probe = join(dir, `.write-test-${process.pid}`)
  try {
    await mkdir(dir, { recursive: true })
    await writeFile(probe, '')
    await rm(probe, { force: true })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error'
    throw new StartError(
      `the data directory ${resolve(dir)} is not writable (${code}). Relaycast keeps its database and keys there: choose another with --data DIR (or RELAYCAST_DATA), or fix its owner and permissions.`,
      EXIT.dataDirUnwritable,
      { cause: err },
    )
  }
}

/** Each fixed port can be bound (then released at once); two listeners never share one. */
export async function checkPorts(listeners: readonly Listener[]): Promise<void> {
  const seen = new Map<number, Listener>()
  for (const l of listeners) {
    if (l.port === 0) continue
    const other = seen.get(l.port)
    if (other) throw new StartError(`the ${other.what} and the ${l.what} are both set to port ${l.port}: change one with ${l.flag} N (or ${l.env}).`, EXIT.portInUse)
    seen.set(l.port, l)
    const err = await tryBind(l.port, l.host)
    if (err) throw portError(l, err)
  }
}

/** The listener whose port a start-up error is about, as a StartError; undefined for other errors. */
export function explainListenError(err: unknown, listeners: readonly Listener[]): StartError | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const errno = e as NodeJS.ErrnoException & { port?: number }
    if (errno.code !== 'EADDRINUSE' && errno.code !== 'EACCES' && errno.code !== 'EADDRNOTAVAIL') continue
    const l = listeners.find((x) => x.port === errno.port) ?? listeners.find((x) => e instanceof Error && e.message.includes(`:${x.port}`))
    if (l) return portError(l, errno)
  }
  return undefined
}

function portError(l: Listener, err: NodeJS.ErrnoException): StartError {
  const where = `${l.host}:${l.port}`
  const message =
    err.code === 'EADDRINUSE'
      ? `port ${l.port} (${l.what}) is already in use on ${l.host}. Stop what uses it, or pick another port with ${l.flag} N (or ${l.env}).`
      : err.code === 'EACCES'
        ? `not allowed to listen on ${where} (${l.what}): ports below 1024 need root. Pick another with ${l.flag} N (or ${l.env}).`
        : `cannot listen on ${where} (${l.what}): ${err.code ?? err.message}. Check the address, or pick another port with ${l.flag} N (or ${l.env}).`
  return new StartError(message, EXIT.portInUse, { cause: err })
}

function tryBind(port: number, host: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((done) => {
    const server = createServer()
    server.once('error', (err: NodeJS.ErrnoException) => done(err))
    server.listen({ port, host, exclusive: true }, () => server.close(() => done(undefined)))
  })
}
