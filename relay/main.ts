import { ConfigError, getConfigHelp, loadConfig } from './config.ts'
import type { Config } from './config.ts'
import { createRelay } from './relay.ts'

/**
 * `relaycast relay`: the relay alone. The only relay file that sees the environment and argv.
 * Resolves with the exit code once SIGINT or SIGTERM has closed the relay gracefully.
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`Usage: relaycast relay [options]\n\nOptions (flag, then environment variable):\n${getConfigHelp()}`)
    return 0
  }
  let config: Config
  try {
    config = loadConfig(env, argv)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    console.error(`relaycast relay: ${err.message}`)
    return 2
  }

  const relay = await createRelay(config)
  await relay.listen()
  console.log(`relaycast relay: listening on ${relay.url} (data in ${config.dataDir}, service pubkey ${relay.api.pubkey})`)

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve)
    process.once('SIGTERM', resolve)
  })
  console.log(`relaycast relay: ${signal}, closing`)
  // A second signal while closing means "now".
  process.once(signal, () => process.exit(130))
  await relay.close()
  return 0
}
