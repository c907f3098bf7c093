/**
 * The flags only `relaycast start` knows, and what they turn into for the parts. Pure: the parts'
 * own loaders still read env then argv, so `--public` and `--base-url` are applied as *defaults*
 * in the environment handed to them — an explicit flag or variable for one part always wins.
 */

export interface StartOptions {
  /** Bind relay, HLS origin and RTMP on every interface instead of loopback. */
  public: boolean
  /** https://host (or http://) where users reach the app; the relay, HLS and RTMP URLs follow from it. */
  baseUrl: string | undefined
  /** Skip building and serving the web app (relay, ingest and transcoder only). */
  noApp: boolean
  /** The argv left for the parts (splitArgv). */
  rest: string[]
}

export class StartOptionError extends Error {
  override readonly name = 'StartOptionError'
}

/** Start-only flags with their variables, for --help and the README. */
export const START_OPTIONS = [
  { flag: '--public', env: 'RELAYCAST_PUBLIC', help: 'bind relay, HLS and RTMP on all interfaces (default: 127.0.0.1 only)' },
  { flag: '--base-url', env: 'RELAYCAST_BASE_URL', help: 'public https:// URL of the app; relay wss://, HLS <base>/hls/ and RTMP rtmp://<host>:<rtmp-port> follow from it' },
  { flag: '--no-app', env: 'RELAYCAST_NO_APP', help: 'do not build or serve the web app' },
] as const

const TRUE = /^(1|true|yes|on)$/i

/** Takes the start-only flags (and their variables) out of argv. Throws StartOptionError. */
export function parseStartOptions(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): StartOptions {
  const options: StartOptions = {
    public: TRUE.test(env.RELAYCAST_PUBLIC ?? ''),
    baseUrl: env.RELAYCAST_BASE_URL || undefined,
    noApp: TRUE.test(env.RELAYCAST_NO_APP ?? ''),
    rest: [],
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--public') options.public = true
    else if (arg === '--no-app') options.noApp = true
    else if (arg === '--base-url') {
      const value = argv[++i]
      if (value === undefined) throw new StartOptionError('--base-url needs a value')
      options.baseUrl = value
    } else if (arg.startsWith('--base-url=')) options.baseUrl = arg.slice('--base-url='.length)
    else options.rest.push(arg)
  }
  if (options.baseUrl !== undefined) options.baseUrl = parseBaseUrl(options.baseUrl)
  return options
}

function parseBaseUrl(v: string): string {
  let url: URL
  try {
    url = new URL(v)
  } catch (err) {
    throw new StartOptionError(`--base-url must be an http:// or https:// URL, got ${JSON.stringify(v)}`, { cause: err })
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new StartOptionError('--base-url must be an http:// or https:// URL')
  if (url.pathname !== '/' || url.search || url.hash) throw new StartOptionError('--base-url must be an origin without a path (the app is served at /)')
  return url.origin
}

/**
 * The environment the parts' loaders see: loopback (or all interfaces with --public) for every
 * listener, and with a base URL the relay's wss:// URL, the HLS base (same origin: a reverse
 * proxy sends /hls/ to the HLS port) and the RTMP URL — each only where the operator set nothing.
 */
export function getPartsEnv(env: Readonly<Record<string, string | undefined>>, options: Pick<StartOptions, 'public' | 'baseUrl'>, rtmp: { port: number; app: string }, httpPort?: number): Record<string, string | undefined> {
  const bind = options.public ? '0.0.0.0' : '127.0.0.1'
  const defaults: Record<string, string> = {
    RELAYCAST_RELAY_HOST: bind,
    RELAYCAST_HTTP_HOST: bind,
    RELAYCAST_RTMP_HOST: bind,
  }
  if (options.baseUrl !== undefined) {
    const url = new URL(options.baseUrl)
    defaults.RELAYCAST_RELAY_URL = `${url.protocol === 'https:' ? 'wss:' : 'ws:'}//${url.host}`
    defaults.RELAYCAST_PUBLIC_URL = url.origin
    // Port 0 (tests) is only known once bound: the ingest then names it itself.
    if (rtmp.port !== 0) defaults.RELAYCAST_INGEST_URL = `rtmp://${url.hostname}:${rtmp.port}/${rtmp.app}`
  } else if (!options.public) {
    // On loopback, name the address bound: "localhost" may resolve to ::1 first, and OBS's RTMP
    // client does not fall back to 127.0.0.1. (Port 0 is only known once bound.)
    if (rtmp.port !== 0) defaults.RELAYCAST_INGEST_URL = `rtmp://127.0.0.1:${rtmp.port}/${rtmp.app}`
    if (httpPort !== undefined && httpPort !== 0) defaults.RELAYCAST_PUBLIC_URL = `http://127.0.0.1:${httpPort}`
  }
  const out: Record<string, string | undefined> = { ...env }
  for (const [key, value] of Object.entries(defaults)) if (!out[key]) out[key] = value
  return out
}
