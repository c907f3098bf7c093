/**
 * `relaycast start`: everything on one machine with embedded defaults — data, keys and the
 * database under ./data. Each part is also runnable alone (`relaycast relay`, `relaycast dvm`);
 * this only composes them. Parts that have not landed yet are simply not started.
 */
export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('Usage: relaycast start [relay options]\n\nStarts the relay (more parts as they land). See `relaycast relay --help`.')
    return 0
  }
  const relay = await import('../relay/main.ts')
  return relay.main(argv, env)
}
