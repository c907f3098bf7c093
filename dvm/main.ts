import { join } from 'node:path'
import { createKeyRegistry } from '../ingest/auth.ts'
import { ConfigError as IngestConfigError, getConfigHelp as getIngestHelp, getIngestUrl, loadConfig as loadIngestConfig } from '../ingest/config.ts'
import type { Config as IngestConfig } from '../ingest/config.ts'
import { createIngest } from '../ingest/server.ts'
import type { Ingest, Log, LogLevel } from '../ingest/types.ts'
import { KIND_HANDLER_INFO } from '../protocol/kinds.ts'
import type { SignatureCheck } from '../protocol/types.ts'
import { buildAnnouncement } from './announce.ts'
import { ConfigError, getConfigHelp, getPublicUrl, loadConfig } from './config.ts'
import type { Config } from './config.ts'
import { createBlossom } from './blossom.ts'
import type { Blossom } from './blossom.ts'
import { openJobLedger } from './job-ledger.ts'
import { createOrigin, listenHttp } from './origin.ts'
import { connectRelay } from './relay-client.ts'
import { sweepEndedStreams } from './retention.ts'
import { loadServiceKey } from './service-key.ts'
import { createWorker } from './worker.ts'
import type { Worker, WorkerEvent } from './worker.ts'

/**
 * `relaycast dvm`: ingest + worker + HLS origin in one process. `startDvm` composes them (used by
 * `main`, `relaycast start` and the tests); `main` is the only file that sees env and argv.
 */

export interface Dvm {
  pubkey: string
  npub: string
  ingest: Ingest
  worker: Worker
  /** Bound HTTP port: HLS under /hls/, recordings (Blossom) at /<sha256>. */
  httpPort: number
  blossom: Blossom
  ingestUrl: string
  publicUrl: string
  close(): Promise<void>
}

export interface StartOptions {
  log?: Log
  check?: SignatureCheck
  onEvent?: (event: WorkerEvent) => void
}

const SWEEP_INTERVAL_MS = 60_000

export async function startDvm(config: Config, ingestConfig: IngestConfig, options: StartOptions = {}): Promise<Dvm> {
  const log: Log = options.log ?? (() => {})
  const key = await loadServiceKey(config.dataDir)
  const hlsRoot = join(config.dataDir, 'hls')
  const origin = createOrigin({ root: hlsRoot, log })
  // Recordings are blobs on the same port: BUD-01 URLs are <server>/<sha256>.
  let publicUrl = ''
  const blossom = await createBlossom({ dir: join(config.dataDir, 'recordings'), publicUrl: () => publicUrl, log })
  const http = await listenHttp([origin.handle, blossom.handle], config.httpPort, config.httpHost)
  publicUrl = getPublicUrl(config, http.port)
  const registry = createKeyRegistry()
  const ledger = await openJobLedger(join(config.dataDir, 'jobs'))
  const controller = new AbortController()
  const cleanups: Array<() => Promise<void> | void> = [() => http.close()]
  const fail = async (err: unknown): Promise<never> => {
    controller.abort()
    for (const c of cleanups.reverse()) await c()
    throw err
  }

  // Ingest needs the worker's hooks and the worker needs ingest's port: bind late.
  let ingest: Ingest | undefined
  let ingestUrl = ''
  let relay: Awaited<ReturnType<typeof connectRelay>>
  try {
    relay = await connectRelay(config.relayUrl, { signal: controller.signal, log })
  } catch (err) {
    return fail(new Error(`could not connect to the relay at ${config.relayUrl}: ${(err as Error).message}`, { cause: err }))
  }
  cleanups.push(() => relay.close())

  const worker = createWorker({
    pubkey: key.pubkey,
    sign: key.sign,
    publish: (e) => relay.publish(e),
    registry,
    disconnect: (jobId) => ingest?.disconnect(jobId) ?? false,
    ingestUrl: () => ingestUrl,
    publicUrl: () => publicUrl,
    origin,
    hlsRoot,
    recordingsRoot: join(config.dataDir, 'recording-parts'),
    blossom,
    ledger,
    policy: { allowPubkeys: config.allowPubkeys, acceptUntargeted: config.acceptUntargeted, maxStreams: config.maxStreams, maxRenditions: config.maxRenditions },
    metricsIntervalMs: config.metricsIntervalMs,
    pipeline: { preset: config.preset, segmentSeconds: config.segmentSeconds, graceMs: config.graceMs },
    check: options.check,
    log,
    onEvent: options.onEvent,
  })

  try {
    ingest = await createIngest(
      { ...ingestConfig, dataDir: ingestConfig.dataDir },
      {
        authorize: registry.authorize,
        release: registry.release,
        onPublish: (s) => worker.onPublish(s),
        onUnpublish: (s) => worker.onUnpublish(s),
      },
      { log },
    )
  } catch (err) {
    return fail(err)
  }
  const started = ingest
  cleanups.push(() => started.close())
  cleanups.push(() => worker.close())
  ingestUrl = getIngestUrl(ingestConfig, ingest.port)

  const announce = async (): Promise<void> => {
    try {
      await relay.publish(await key.sign(buildAnnouncement({ name: config.name, ingestUrl, limits: { maxStreams: config.maxStreams, maxRenditions: config.maxRenditions } })))
    } catch (err) {
      log('warn', 'could not publish the 31990 announcement', { kind: KIND_HANDLER_INFO, error: (err as Error).message })
    }
  }
  await announce()
  // What a previous run stopped without closing left behind (recovery.ts): in the background.
  void worker.recover().catch((err: Error) => log('error', 'recovery after an unclean stop failed', { error: err.message }))
  const announceTimer = setInterval(() => void announce(), config.announceIntervalMs)
  const sweepTimer = setInterval(() => {
    sweepEndedStreams({ root: hlsRoot, retentionMs: config.retentionMs, isActive: worker.isActive, log }).catch((err: Error) => log('warn', 'retention sweep failed', { error: err.message }))
  }, SWEEP_INTERVAL_MS)
  announceTimer.unref()
  sweepTimer.unref()
  cleanups.push(() => {
    clearInterval(announceTimer)
    clearInterval(sweepTimer)
  })

  relay.subscribe(worker.filters(), (e) => void worker.handleEvent(e), controller.signal)
  log('info', 'dvm ready', { pubkey: key.pubkey, relay: config.relayUrl, ingest: ingestUrl, hls: `${publicUrl}/hls/` })

  let closing: Promise<void> | undefined
  return {
    pubkey: key.pubkey,
    npub: key.npub,
    ingest,
    worker,
    httpPort: http.port,
    blossom,
    ingestUrl,
    publicUrl,
    close: () =>
      (closing ??= (async () => {
        controller.abort()
        // Reverse order: timers, ingest, worker (ends streams, publishes last words), relay, http.
        for (const c of [...cleanups].reverse()) {
          try {
            await c()
          } catch (err) {
            log('warn', 'error while closing', { error: (err as Error).message })
          }
        }
      })()),
  }
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']

/** Lines on stderr; fields as JSON. Callers never pass secrets (only hashes and session ids). */
export function createConsoleLog(min: LogLevel): Log {
  const threshold = LEVELS.indexOf(min)
  return (level, message, fields) => {
    if (LEVELS.indexOf(level) < threshold) return
    console.error(`${new Date().toISOString()} ${level} dvm: ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`)
  }
}

export function getHelp(): string {
  return `Usage: relaycast dvm [options]\n\nRTMP ingest + HLS transcoder (NIP-90 kind 5311) + HLS origin.\n\nOptions (flag, then environment variable):\n${getConfigHelp()}\n\nIngest options:\n${getIngestHelp()}`
}

/** Parses both configs; a ConfigError message or the configs. */
export function loadConfigs(env: NodeJS.ProcessEnv, argv: readonly string[]): { config: Config; ingest: IngestConfig } | string {
  try {
    const config = loadConfig(env, argv)
    return { config, ingest: loadIngestConfig(env, argv) }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof IngestConfigError) return err.message
    throw err
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(getHelp())
    return 0
  }
  const configs = loadConfigs(env, argv)
  if (typeof configs === 'string') {
    console.error(`relaycast dvm: ${configs}`)
    return 2
  }
  const dvm = await startDvm(configs.config, configs.ingest, { log: createConsoleLog(configs.config.logLevel) })
  console.log(`relaycast dvm: service pubkey ${dvm.npub}; OBS server ${dvm.ingestUrl}; HLS at ${dvm.publicUrl}/hls/; jobs from ${configs.config.relayUrl}`)
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  console.log(`relaycast dvm: ${signal}, closing`)
  process.once(signal, () => process.exit(130))
  await dvm.close()
  return 0
}
