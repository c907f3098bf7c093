import { DEFAULT_CONFIG as DVM_DEFAULTS, OPTIONS as DVM_OPTIONS } from '../dvm/config.ts'
import { OPTIONS as INGEST_OPTIONS } from '../ingest/config.ts'
import { OPTIONS as RELAY_OPTIONS } from '../relay/config.ts'

/**
 * `relaycast start`: everything on one machine with embedded defaults — the relay on
 * ws://127.0.0.1:7777, RTMP on 1935, HLS on 8088, data and keys under ./data — in one process.
 * Each part is also runnable alone (`relaycast relay`, `relaycast dvm`); this only composes them.
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

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const relayConfigs = await import('../relay/config.ts')
  const dvmMain = await import('../dvm/main.ts')
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(
      [
        'Usage: relaycast start [options]',
        '',
        'Starts the relay, the RTMP ingest, the transcoder DVM and the HLS origin in one process.',
        'Defaults: relay ws://127.0.0.1:7777, RTMP 1935, HLS 8088, data ./data.',
        '',
        `Relay options:\n${relayConfigs.getConfigHelp()}`,
        '',
        dvmMain.getHelp().split('\n').slice(4).join('\n'),
      ].join('\n'),
    )
    return 0
  }
  const split = splitArgv(argv)
  let relayConfig
  try {
    relayConfig = relayConfigs.loadConfig(env, split.relay)
  } catch (err) {
    if (!(err instanceof relayConfigs.ConfigError)) throw err
    console.error(`relaycast start: ${err.message}`)
    return 2
  }
  const configs = dvmMain.loadConfigs(env, split.dvm)
  if (typeof configs === 'string') {
    console.error(`relaycast start: ${configs}`)
    return 2
  }

  const { createRelay } = await import('../relay/relay.ts')
  const relay = await createRelay(relayConfig)
  const port = await relay.listen()
  console.log(`relaycast start: relay on ${relay.url} (data in ${relayConfig.dataDir}, service pubkey ${relay.api.pubkey})`)
  // The DVM talks to the relay in this process over loopback, whatever its public URL.
  const host = relayConfig.host === '0.0.0.0' || relayConfig.host === '::' ? '127.0.0.1' : relayConfig.host
  const relayUrl = configs.config.relayUrl === DVM_DEFAULTS.relayUrl ? `ws://${host.includes(':') ? `[${host}]` : host}:${port}` : configs.config.relayUrl
  let dvm
  try {
    dvm = await dvmMain.startDvm({ ...configs.config, relayUrl }, configs.ingest, { log: dvmMain.createConsoleLog(configs.config.logLevel) })
  } catch (err) {
    console.error(`relaycast start: the transcoder could not start: ${(err as Error).message}`)
    await relay.close()
    return 1
  }
  console.log(`relaycast start: transcoder ${dvm.npub}; OBS server ${dvm.ingestUrl}; HLS at ${dvm.publicUrl}/hls/`)

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  console.log(`relaycast start: ${signal}, closing`)
  process.once(signal, () => process.exit(130))
  await dvm.close()
  await relay.close()
  return 0
}
