import { mkdir } from 'node:fs/promises'
import { createServer, isIPv6 } from 'node:net'
import type { Server, Socket } from 'node:net'
import NodeMediaServer from 'node-media-server'
import type { NmsSession } from 'node-media-server'
import nmsContext from 'node-media-server/src/core/context.js'
import nmsLogger from 'node-media-server/src/core/logger.js'
import { blocked, error as errorReason } from '../protocol/reasons.ts'
import type { Rejection } from '../protocol/reasons.ts'
import { keyFingerprint } from './auth.ts'
import { storeDir } from './config.ts'
import type { Config } from './config.ts'
import type { AnnouncedMedia, Ingest, IngestHooks, Log, LogLevel, PublishSession, UnpublishReason } from './types.ts'

/**
 * RTMP ingest on node-media-server, embedded as a library. The only file that knows it.
 *
 * What the library does not give us, and how we get it:
 * - refusing a publish: its events are synchronous and have no reject, so `prePublish` destroys
 *   the socket; `postPublish` still fires for that session, so only admitted ids are acted on;
 * - a prompt end: `donePublish` comes 30 s late, so the publisher's socket 'close' ends it, and
 *   ends the pulls of that stream too (the library would keep them waiting);
 * - a port of 0 and no process.exit on EADDRINUSE: we own the TCP listener and hand each accepted
 *   socket to the library;
 * - keeping keys out of logs and off disk: the stream name is the key, and the library logs
 *   stream paths and stores them in its history, so its log is redacted and history is stopped.
 */

export interface IngestOptions {
  log?: Log
  /** Epoch ms, injected for tests. */
  now?: () => number
}

// The library keeps its config, sessions and event emitter in module-level globals.
let running = false
let librarySink: (level: string, message: string) => void = () => {}
nmsLogger.log = (message: string, level = 'info') => librarySink(level, String(message))

const LIBRARY_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const
const OUR_LEVEL: Record<string, LogLevel> = { trace: 'debug', debug: 'debug', info: 'info', warn: 'warn', error: 'error' }

/** Stream names in the library's messages are keys: `/app/<name>` and `name=<name>` are masked. */
export function redactLibraryMessage(message: string, secrets: Iterable<string> = []): string {
  let out = message
  for (const secret of secrets) if (secret !== '') out = out.split(secret).join('***')
  return out
    .replace(/(^|[\s='"(])(\/[A-Za-z0-9_-]+\/)[A-Za-z0-9_-]+(?=$|[\s,;:'")])/g, '$1$2***')
    .replace(/\bname=[^\s,;]*/g, 'name=***')
}

export async function createIngest(config: Config, hooks: IngestHooks, options: IngestOptions = {}): Promise<Ingest> {
  if (running) throw new Error('only one ingest per process: node-media-server keeps global state')
  running = true
  const log: Log = options.log ?? (() => {})
  const now = options.now ?? Date.now

  /** Names of connected sessions, masked in the library's messages on top of the patterns. */
  const liveNames = new Set<string>()
  const threshold = config.libraryLogLevel === 'off' ? Infinity : LIBRARY_LEVELS.indexOf(config.libraryLogLevel)
  librarySink = (level, message) => {
    const rank = LIBRARY_LEVELS.indexOf(level as (typeof LIBRARY_LEVELS)[number])
    if (rank < threshold) return
    log(OUR_LEVEL[level] ?? 'info', `node-media-server: ${redactLibraryMessage(message, liveNames)}`)
  }

  interface Admitted {
    jobId: string
    socket: Socket
    published?: PublishSession
    reason?: UnpublishReason
  }
  const admitted = new Map<string, Admitted>() // by library session id
  const byJob = new Map<string, PublishSession>()
  const handshakeTimers = new WeakMap<Socket, NodeJS.Timeout>()
  const sockets = new Set<Socket>()
  /** Stream paths with an admitted publisher connected (paths hold keys: never log them). */
  const livePaths = new Set<string>()
  /** Local players (the transcoder's pulls) by stream path. */
  const players = new Map<string, Set<Socket>>()
  let port = 0
  let closing = false

  const pullHost = config.host === '0.0.0.0' || config.host === '::' || config.host === '' ? '127.0.0.1' : isIPv6(config.host) ? `[${config.host}]` : config.host

  function settle(socket: Socket | undefined): void {
    if (!socket) return
    clearTimeout(handshakeTimers.get(socket))
    handshakeTimers.delete(socket)
  }

  function refuse(session: NmsSession, reason: Rejection, fingerprint?: string): void {
    log('warn', 'publish refused', { session: session.id, remote: session.ip, key: fingerprint, reason })
    session.socket?.destroy()
  }

  function onPrePublish(session: NmsSession): void {
    const socket = session.socket
    settle(socket)
    if (!socket || closing) {
      socket?.destroy()
      return
    }
    liveNames.add(session.streamName)
    socket.once('close', () => liveNames.delete(session.streamName))
    // The library has already ended connections with unsafe names; their app and name are empty.
    if (session.streamApp === '' || session.streamName === '') return refuse(session, blocked('invalid stream path'))
    if (session.streamApp !== config.app) return refuse(session, blocked('unknown application'))
    let verdict: ReturnType<IngestHooks['authorize']>
    try {
      verdict = hooks.authorize(session.streamName)
    } catch (err) {
      log('error', 'authorize failed', { session: session.id, error: (err as Error).message })
      return refuse(session, errorReason('could not check the stream key'))
    }
    if (typeof verdict === 'string') return refuse(session, verdict, keyFingerprint(session.streamName))

    const entry: Admitted = { jobId: verdict.jobId, socket }
    admitted.set(session.id, entry)
    socket.once('close', () => onAdmittedClose(session, entry))
    // The library decides after this hook whether the session becomes the publisher (it sets
    // isPublisher once postPublish returns): look once the current handler has finished.
    queueMicrotask(() => {
      if (!session.isPublisher || socket.destroyed) {
        log('warn', 'publish admitted but not started by the library', { session: session.id, job: entry.jobId })
        socket.destroy()
        return
      }
      livePaths.add(session.streamPath)
      entry.published = makeSession(session, entry)
      byJob.set(entry.jobId, entry.published)
      log('info', 'publish started', { session: session.id, job: entry.jobId, remote: session.ip })
      call('onPublish', () => hooks.onPublish(entry.published!))
    })
  }

  function onAdmittedClose(session: NmsSession, entry: Admitted): void {
    admitted.delete(session.id)
    if (entry.published) livePaths.delete(session.streamPath)
    // The library keeps players attached, waiting for the publisher to come back; our puller
    // would block in a read. End their connections so the transcoder sees the end of the
    // stream now and finishes its segments cleanly.
    for (const player of players.get(session.streamPath) ?? []) player.end()
    const published = entry.published
    if (published) {
      if (byJob.get(entry.jobId) === published) byJob.delete(entry.jobId)
      const reason = entry.reason ?? (closing ? 'shutdown' : 'disconnected')
      log('info', 'publish ended', { session: session.id, job: entry.jobId, reason })
      call('onUnpublish', () => hooks.onUnpublish(published, reason))
    }
    call('release', () => hooks.release?.(entry.jobId))
  }

  function makeSession(session: NmsSession, entry: Admitted): PublishSession {
    const ps = {
      id: session.id,
      jobId: entry.jobId,
      remoteAddress: session.ip,
      startedAt: now(),
      bytesIn: () => session.inBytes,
      announcedMedia: () => readAnnouncedMedia(session),
      disconnect: () => {
        entry.reason ??= 'kicked'
        entry.socket.destroy()
      },
    }
    Object.defineProperty(ps, 'pullUrl', {
      value: `rtmp://${pullHost}:${port}/${session.streamApp}/${session.streamName}`,
      enumerable: false,
    })
    return Object.freeze(ps) as PublishSession
  }

  function onPrePlay(session: NmsSession): void {
    const socket = session.socket
    settle(socket)
    if (!socket) return
    // Playing is for our own transcoder pulling on this machine, not for the world.
    if (!isLocal(socket)) {
      log('warn', 'play refused: not from this machine', { session: session.id, remote: session.ip })
      socket.destroy()
      return
    }
    const path = session.streamPath
    // Nothing to pull: the library would keep the player waiting for a publisher.
    if (!livePaths.has(path)) {
      log('info', 'play refused: nothing is being published there', { session: session.id })
      socket.end()
      return
    }
    let set = players.get(path)
    if (!set) players.set(path, (set = new Set()))
    set.add(socket)
    socket.once('close', () => {
      set.delete(socket)
      if (set.size === 0 && players.get(path) === set) players.delete(path)
    })
  }

  function call(what: string, fn: () => void): void {
    try {
      fn()
    } catch (err) {
      log('error', `${what} hook failed`, { error: (err as Error).message })
    }
  }

  const listeners: Array<[string, (s: NmsSession) => void]> = [
    ['prePublish', onPrePublish],
    ['prePlay', onPrePlay],
  ]

  let nms: NodeMediaServer | undefined
  let server: Server | undefined
  try {
    const dir = storeDir(config)
    await mkdir(dir, { recursive: true })
    // No rtmp port (we own the listener), no http (no FLV playback, no admin API), no record path.
    nms = new NodeMediaServer({ bind: config.host, store: { path: dir }, webadmin: { enable: false } })
    // Its store would otherwise flush and re-raise SIGINT/SIGTERM, killing the process before the
    // owner stops ffmpeg and closes LMDB; shutdown belongs to whoever started the ingest.
    nms.store.options.signals = false
    for (const [event, fn] of listeners) nmsContext.eventEmitter.on(event, fn)
    await nms.run()
    // Its publish history stores stream names, which are keys.
    nms.historyServer.stop()

    const library = nms
    server = createServer({ noDelay: true }, (socket) => {
      if (closing) return void socket.destroy()
      sockets.add(socket)
      socket.once('close', () => {
        sockets.delete(socket)
        settle(socket)
      })
      const timer = setTimeout(() => socket.destroy(), config.handshakeTimeoutMs)
      timer.unref()
      handshakeTimers.set(socket, timer)
      library.rtmpServer.handleRequest(socket)
    })
    server.maxConnections = config.maxConnections
    const tcp = server
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(config.rtmpPort, config.host, () => {
        tcp.off('error', reject)
        resolve()
      })
    })
    tcp.on('error', (err) => log('error', 'rtmp listener error', { error: err.message }))
    const address = tcp.address()
    port = typeof address === 'object' && address ? address.port : config.rtmpPort
    log('info', 'rtmp ingest listening', { host: config.host, port, app: config.app })
  } catch (err) {
    await shutdown().catch(() => undefined)
    throw new Error(`ingest could not start on ${config.host}:${config.rtmpPort}: ${(err as Error).message}`, { cause: err })
  }

  async function shutdown(): Promise<void> {
    closing = true
    const closed = [...sockets].map((s) => new Promise<void>((resolve) => (s.destroyed && s.closed ? resolve() : s.once('close', () => resolve()))))
    for (const s of sockets) s.destroy()
    await Promise.all(closed)
    if (server?.listening) await new Promise<void>((resolve) => server!.close(() => resolve()))
    await nms?.stop()
    for (const [event, fn] of listeners) nmsContext.eventEmitter.off(event, fn)
    librarySink = () => {}
    running = false
  }

  let closePromise: Promise<void> | undefined
  return {
    get port() {
      return port
    },
    sessions: byJob,
    disconnect(jobId) {
      const session = byJob.get(jobId)
      session?.disconnect()
      return session !== undefined
    },
    close: () => (closePromise ??= shutdown()),
  }
}

function isLocal(socket: Socket): boolean {
  const remote = (socket.remoteAddress ?? '').replace(/^::ffff:/, '')
  const local = (socket.localAddress ?? '').replace(/^::ffff:/, '')
  return remote === '::1' || remote.startsWith('127.') || (remote !== '' && remote === local)
}

function readAnnouncedMedia(session: NmsSession): AnnouncedMedia | undefined {
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined)
  const media: AnnouncedMedia = {
    width: num(session.videoWidth),
    height: num(session.videoHeight),
    fps: num(session.videoFramerate),
    videoCodecId: num(session.videoCodec),
    audioCodecId: num(session.audioCodec),
    audioSampleRate: num(session.audioSamplerate),
    audioChannels: num(session.audioChannels),
  }
  return Object.values(media).some((v) => v !== undefined) ? media : undefined
}
