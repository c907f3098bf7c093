import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { DEFAULT_CONFIG as DVM_DEFAULTS } from '../../dvm/config.ts'
import type { Config as DvmConfig } from '../../dvm/config.ts'
import { startDvm } from '../../dvm/main.ts'
import type { Dvm } from '../../dvm/main.ts'
import { connectRelay } from '../../dvm/relay-client.ts'
import type { RelayClient } from '../../dvm/relay-client.ts'
import { DEFAULT_CONFIG as INGEST_DEFAULTS } from '../../ingest/config.ts'
import { startTestRelay } from '../../relay/test-harness.ts'
import type { TestRelay } from '../../relay/test-harness.ts'
import { captureLog } from '../media/log-capture.ts'

/**
 * The whole product on loopback for browser tests and the client bench: the client built by
 * scripts/build-client.js into a temp dir, the real relay (LMDB) serving it, and the real DVM
 * (ingest + transcoder + HLS origin) on free loopback ports, each with its own temp data dir.
 */

export const REPO_ROOT = resolve(import.meta.dirname, '../..')

/** What scripts/build-client.js returns (the client contract). */
export interface ClientBuild {
  files: unknown
  shellBytesGz: number
  playerBytesGz: number
}

export interface SystemOptions {
  /** Serve this directory instead of building the client (for trying the harness on a stub). */
  staticDir?: string
  /** DVM settings for the run (ports, dirs and relay are always set here). */
  dvm?: Partial<DvmConfig>
}

export interface System {
  /** http://127.0.0.1:<port> — the relay's HTTP port serving the client. */
  baseUrl: string
  /** ws://127.0.0.1:<port> */
  relayUrl: string
  relay: TestRelay
  dvm: Dvm
  /** A Node-side connection to the relay, for waiting on events the browser should have signed. */
  watcher: RelayClient
  staticDir: string
  /** The build's own figures; undefined when a prebuilt staticDir was given. */
  build: ClientBuild | undefined
  /** DVM log lines (the key never appears in them), for failure messages. */
  dvmLog(): string
  close(): Promise<void>
}

/** A port nothing listens on right now (bind 0 on loopback, read it, release it). */
export async function findFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolvePort(port))
    })
  })
}

/** Builds the client with the project's own build script into `outDir`. */
export async function buildClientInto(outDir: string): Promise<ClientBuild> {
  // Imported at run time: the script is the client engineer's and JavaScript.
  const url = pathToFileURL(join(REPO_ROOT, 'scripts/build-client.js')).href
  const mod = (await import(url)) as { buildClient?: (o: { outDir: string; minify?: boolean }) => Promise<ClientBuild> }
  if (typeof mod.buildClient !== 'function') throw new Error('scripts/build-client.js does not export buildClient({ outDir })')
  return mod.buildClient({ outDir, minify: true })
}

export async function startSystem(options: SystemOptions = {}): Promise<System> {
  const cleanups: Array<() => Promise<void> | void> = []
  const closeAll = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) {
      try {
        await c()
      } catch (err) {
        console.error('browser-test system: error while closing', err)
      }
    }
  }
  try {
    let staticDir = options.staticDir
    let build: ClientBuild | undefined
    if (staticDir === undefined) {
      const out = await mkdtemp(join(tmpdir(), 'relaycast-client-'))
      cleanups.push(() => rm(out, { recursive: true, force: true }))
      build = await buildClientInto(out)
      staticDir = out
    }

    const relay = await startTestRelay({ staticDir }, { lmdb: true })
    cleanups.push(() => relay.stop())

    // Ports found first so the URLs the DVM hands out (OBS server, HLS) name 127.0.0.1 exactly.
    const [rtmpPort, httpPort] = [await findFreePort(), await findFreePort()]
    const dvmDir = await mkdtemp(join(tmpdir(), 'relaycast-dvm-'))
    cleanups.push(() => rm(dvmDir, { recursive: true, force: true }))
    const logs = captureLog()
    const dvm = await startDvm(
      {
        ...DVM_DEFAULTS,
        graceMs: 3000,
        metricsIntervalMs: 2000,
        ...options.dvm,
        relayUrl: relay.url,
        httpHost: '127.0.0.1',
        httpPort,
        publicUrl: `http://127.0.0.1:${httpPort}`,
        dataDir: dvmDir,
      },
      { ...INGEST_DEFAULTS, host: '127.0.0.1', rtmpPort, publicUrl: `rtmp://127.0.0.1:${rtmpPort}/live`, dataDir: dvmDir, libraryLogLevel: 'warn' },
      { log: logs.log },
    )
    cleanups.push(() => dvm.close())

    const watcher = await connectRelay(relay.url)
    cleanups.push(() => watcher.close())

    return {
      baseUrl: `http://127.0.0.1:${relay.port}`,
      relayUrl: relay.url,
      relay,
      dvm,
      watcher,
      staticDir,
      build,
      dvmLog: () => logs.text(),
      close: closeAll,
    }
  } catch (err) {
    await closeAll()
    throw err
  }
}
