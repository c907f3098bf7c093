/**
 * `relaycast <command>`: dispatches to each part's own main. Each main reads its flags from argv
 * and its settings from the environment (the only place process.env is read is a main).
 */
export interface Command {
  summary: string
  run(argv: string[], env: NodeJS.ProcessEnv): Promise<number>
}

const COMMANDS: Record<string, Command> = {
  start: {
    summary: 'run everything on one machine with embedded defaults (relay, ingest + transcoder + HLS)',
    run: async (argv, env) => (await import('./start.ts')).main(argv, env),
  },
  relay: {
    summary: 'run the Nostr relay alone        [--port 7777] [--host 127.0.0.1] [--data ./data]',
    run: async (argv, env) => (await import('../relay/main.ts')).main(argv, env),
  },
  dvm: {
    summary: 'run RTMP ingest + HLS transcoder  [--relay ws://127.0.0.1:7777] [--rtmp-port 1935] [--http-port 8088] [--public-url URL] [--data ./data]',
    run: async (argv, env) => (await import('../dvm/main.ts')).main(argv, env),
  },
}

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return [
    'Relaycast: self-hostable live streaming on Nostr.',
    '',
    'Usage: relaycast <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `relaycast <command> --help` for a command\'s options and environment variables.',
  ].join('\n')
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const [name, ...rest] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage())
    return 0
  }
  const command = COMMANDS[name]
  if (!command) {
    console.error(`relaycast: unknown command "${name}"\n\n${usage()}`)
    return 2
  }
  return command.run(rest, env)
}
