import { join, resolve } from 'node:path'
import { npubEncode } from 'nostr-tools/nip19'
import { DEFAULT_CONFIG as DVM_DEFAULTS, OPTIONS as DVM_OPTIONS } from '../dvm/config.ts'
import { ConfigError as IngestConfigError, OPTIONS as INGEST_OPTIONS } from '../ingest/config.ts'
import { OPTIONS as RELAY_OPTIONS } from '../relay/config.ts'
import { formatBanner } from './banner.ts'
import { EXIT, StartError, checkDataDir, checkFfmpeg, checkPorts, explainListenError } from './preflight.ts'
import type { Listener } from './preflight.ts'
import { START_OPTIONS, StartOptionError, getPartsEnv, parseStartOptions } from './start-options.ts'

/**
 * `relaycast start`: everything on one machine with embedded defaults — the relay and the web app
 * on http/ws://127.0.0.1:7777, RTMP on 1935, HLS on 8088, data and keys under ./data — in one
 * process, on loopback unless --public. Each part is also runnable alone (`relaycast relay`,
 * `relaycast dvm`); this only composes them, checks what commonly goes wrong first, and stops
 * everything on SIGINT/SIGTERM (ffmpeg children, playlists ended, LMDB closed).
 */

/**
 * Splits `start`'s argv between the parts: `--data` goes to both, `--public-url` by its scheme
 * (ws: relay, http: HLS), flags only the DVM or ingest knows go to the DVM, the rest to the relay
 * (which refuses what it does not know). Flags both name (`--name`, `--metrics-interval`) are the
 * relay's here; set the DVM's through its environment variables.
 */
export function splitArgv(argv: readonly string[]): { relay: string[]; dvm: string[] } {
  const relayFlags = new Set(RELAY_OPTIONS.map((o) => o.flag))
  const dvmOptions = [...DVM_OPTIONS, ...INGEST_OPTIONS.map((o) => ({ ...o, boolean: false }))]
  const relay: string[] = []
  const dvm: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const dvmOption = dvmOptions.find((o) => o.flag === flag)
    const takesValue = eq < 0 && dvmOption !== undefined && !('boolean' in dvmOption && dvmOption.boolean)
    const tokens = takesValue && i + 1 < argv.length ? [arg, argv[++i]] : [arg]
    if (flag === '--data') {
      relay.push(...tokens)
      dvm.push(...tokens)
    } else if (flag === '--public-url') {
      const value = tokens.length === 2 ? tokens[1] : arg.slice(eq + 1)
      ;(/^wss?:/.test(value) ? relay : dvm).push(...tokens)
    } else if (dvmOption && !relayFlags.has(flag)) {
      dvm.push(...tokens)
    } else {
      relay.push(arg)
      if (tokens.length === 2) relay.push(tokens[1])
    }
  }
  return { relay, dvm }
}

/** Longest a graceful close may take before the process exits anyway. */
const CLOSE_TIMEOUT_MS = 20_000

function help(relayHelp: string, dvmHelp: string): string {
  const width = Math.max(...START_OPTIONS.map((o) => o.flag.length + 2))
  return [
    'Usage: relaycast start [options]',
    '',
    'Starts the relay with the web app, the RTMP ingest, the transcoder DVM and the HLS origin in one process.',
    'Defaults: app and relay http/ws://127.0.0.1:7777, RTMP 1935, HLS 8088, all on 127.0.0.1; data ./data.',
    '',
    'Start options:',
    ...START_OPTIONS.map((o) => `  ${(o.flag === '--base-url' ? `${o.flag} V` : o.flag).padEnd(width)}  ${o.help} [${o.env}]`),
    '',
    `Relay options:\n${relayHelp}`,
    '',
    dvmHelp.split('\n').slice(4).join('\n'),
    '',
    `Exit codes: ${EXIT.ok} stopped cleanly, ${EXIT.badOption} bad option, ${EXIT.ffmpegMissing} ffmpeg missing, ${EXIT.portInUse} port in use, ${EXIT.dataDirUnwritable} data directory not writable, ${EXIT.failed} anything else.`,
  ].join('\n')
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const relayConfigs = await import('../relay/config.ts')
  const dvmMain = await import('../dvm/main.ts')
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(help(relayConfigs.getConfigHelp(), dvmMain.getHelp()))
    return EXIT.ok
  }
  const fail = (err: unknown): number => {
    if (err instanceof StartError) {
      console.error(`relaycast start: ${err.message}`)
      return err.exitCode
    }
    throw err
  }

  // Options: start's own, then each part's loader over the environment start derives.
  let relayConfig
  let configs
  let options
  try {
    options = parseStartOptions(env, argv)
    const split = splitArgv(options.rest)
    // A first read for the ports the derived URLs name; the real one follows over partsEnv.
    const pre = dvmMain.loadConfigs(env, split.dvm)
    if (typeof pre === 'string') throw new StartError(pre, EXIT.badOption)
    const partsEnv = getPartsEnv(env, options, { port: pre.ingest.rtmpPort, app: pre.ingest.app }, pre.config.httpPort)
    relayConfig = relayConfigs.loadConfig(partsEnv, split.relay)
    const loaded = dvmMain.loadConfigs(partsEnv, split.dvm)
    if (typeof loaded === 'string') throw new StartError(loaded, EXIT.badOption)
    configs = loaded
  } catch (err) {
    if (err instanceof StartOptionError || err instanceof relayConfigs.ConfigError || err instanceof IngestConfigError) return fail(new StartError(err.message, EXIT.badOption))
    return fail(err)
  }

  // A signal during start-up is honoured as soon as start-up is done.
  let onSignal!: (signal: NodeJS.Signals) => void
  const stopSignal = new Promise<NodeJS.Signals>((done) => (onSignal = done))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const listeners: Listener[] = [
    { what: 'relay and web app', port: relayConfig.port, host: relayConfig.host, flag: '--port', env: 'RELAYCAST_RELAY_PORT' },
    { what: 'RTMP ingest', port: configs.ingest.rtmpPort, host: configs.ingest.host, flag: '--rtmp-port', env: 'RELAYCAST_RTMP_PORT' },
    { what: 'HLS origin', port: configs.config.httpPort, host: configs.config.httpHost, flag: '--http-port', env: 'RELAYCAST_HTTP_PORT' },
  ]
  try {
    await checkDataDir(relayConfig.dataDir)
    if (resolve(configs.config.dataDir) !== resolve(relayConfig.dataDir)) await checkDataDir(configs.config.dataDir)
    await checkFfmpeg(env)
    await checkPorts(listeners)
  } catch (err) {
    return fail(err)
  }

  let appUrl: string | undefined
  if (!options.noApp && relayConfig.staticDir === undefined) {
    const outDir = join(relayConfig.dataDir, 'client')
    try {
      const started = Date.now()
      await buildApp(outDir)
      console.error(`relaycast start: web app built into ${outDir} in ${Date.now() - started} ms`)
      relayConfig = { ...relayConfig, staticDir: outDir }
    } catch (err) {
      return fail(new StartError(`the web app could not be built: ${(err as Error).message} (start with --no-app to run without it)`, EXIT.failed, { cause: err }))
    }
  }

  const { createRelay } = await import('../relay/relay.ts')
  const relay = await createRelay(relayConfig)
  let port: number
  try {
    port = await relay.listen()
  } catch (err) {
    await relay.close()
    return fail(explainListenError(err, listeners) ?? err)
  }
  const loopHost = relayConfig.host === '0.0.0.0' || relayConfig.host === '::' ? '127.0.0.1' : relayConfig.host
  const httpBase = `http://${loopHost.includes(':') ? `[${loopHost}]` : loopHost}:${port}`
  if (relayConfig.staticDir !== undefined) appUrl = options.baseUrl ?? `${httpBase}/`
  // The DVM talks to the relay in this process over loopback, whatever its public URL.
  const relayUrl = configs.config.relayUrl === DVM_DEFAULTS.relayUrl ? httpBase.replace(/^http/, 'ws') : configs.config.relayUrl
  let dvm
  try {
    dvm = await dvmMain.startDvm({ ...configs.config, relayUrl }, configs.ingest, { log: dvmMain.createConsoleLog(configs.config.logLevel) })
  } catch (err) {
    await relay.close()
    return fail(explainListenError(err, listeners) ?? new StartError(`the transcoder could not start: ${(err as Error).message}`, EXIT.failed, { cause: err }))
  }

  console.log(
    formatBanner({
      appUrl,
      relayUrl: relay.url,
      rtmpUrl: dvm.ingestUrl,
      hlsUrl: `${dvm.publicUrl}/hls/`,
      relayNpub: npubEncode(relay.api.pubkey),
      transcoderNpub: dvm.npub,
      dataDir: resolve(relayConfig.dataDir),
      loopback: [relayConfig.host, configs.ingest.host, configs.config.httpHost].every(isLoopback),
    }),
  )
  if (options.baseUrl !== undefined && isLoopback(configs.ingest.host)) {
    console.log('Note: RTMP listens on 127.0.0.1 only; for OBS on other machines add --rtmp-host 0.0.0.0 (or --public).')
  }
  if (options.public && options.baseUrl === undefined) {
    console.log('Note: --public without --base-url: the HLS and RTMP URLs above say localhost; set --base-url so viewers and OBS on other machines get reachable ones.')
  }

  const signal = await stopSignal
  console.error(`relaycast start: ${signal}, stopping (a second ${signal} exits at once)`)
  process.once(signal, () => process.exit(130))
  // Whatever still holds the event loop after a graceful close must not keep the process alive.
  setTimeout(() => {
    console.error('relaycast start: closing took too long, exiting')
    process.exit(EXIT.failed)
  }, CLOSE_TIMEOUT_MS).unref()
  // The transcoder first (ffmpeg stopped, playlists ended, last events published), then the relay (LMDB closed).
  await dvm.close()
  await relay.close()
  console.error('relaycast start: stopped')
  return EXIT.ok
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.')
}

/** Builds the web app with the client's own build script (esbuild; a few hundred ms). */
async function buildApp(outDir: string): Promise<void> {
  // A computed specifier: the script is plain JS outside the type-checked tree.
  const script = new URL('../scripts/build-client.js', import.meta.url).href
  const mod = (await import(script)) as { buildClient?: (o: { outDir: string; minify?: boolean }) => Promise<unknown> }
  if (typeof mod.buildClient !== 'function') throw new Error('scripts/build-client.js exports no buildClient()')
  await mod.buildClient({ outDir, minify: true })
}
