import { join } from 'node:path'

/** Ingest settings. Every key has a default; `loadConfig` overlays the environment, then flags. */
export interface Config {
  /** Address the RTMP listener binds; 0.0.0.0 lets OBS on other machines connect. */
  host: string
  /** RTMP port; 0 picks a free one (tests). */
  rtmpPort: number
  /** The application in rtmp://host:port/<app>/<key>; other applications are refused. */
  app: string
  /** Data directory; the library's small JSON store lives in <dataDir>/ingest. */
  dataDir: string
  /** The RTMP server URL told to OBS (without the key); unset: rtmp://localhost:<port>/<app>. */
  publicUrl: string | undefined
  /** Drop a connection that has neither published nor played after this many ms. */
  handshakeTimeoutMs: number
  /** Most RTMP connections at once (publishers and the transcoder's pulls); more are refused. */
  maxConnections: number
  /** node-media-server's own messages forwarded to our log at or above this level (redacted). */
  libraryLogLevel: 'off' | 'error' | 'warn' | 'info' | 'debug'
}

export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze({
  host: '0.0.0.0',
  rtmpPort: 1935,
  app: 'live',
  dataDir: './data',
  publicUrl: undefined,
  handshakeTimeoutMs: 10_000,
  maxConnections: 64,
  libraryLogLevel: 'warn',
})

/** Where node-media-server keeps its store (never the cwd's ./data it defaults to). */
export const storeDir = (config: Pick<Config, 'dataDir'>): string => join(config.dataDir, 'ingest')

/** The URL OBS is given as "Server"; the key goes in OBS's "Stream Key" field. */
export function getIngestUrl(config: Pick<Config, 'publicUrl' | 'rtmpPort' | 'app'>, boundPort?: number): string {
  return config.publicUrl ?? `rtmp://localhost:${boundPort ?? config.rtmpPort}/${config.app}`
}

/** A flag or variable with a bad value; the message names it and says what is expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

interface Option {
  flag: string
  env: string
  help: string
  apply(config: Config, value: string, source: string): void
}

const NAME = /^[A-Za-z0-9_-]+$/
const LOG_LEVELS = ['off', 'error', 'warn', 'info', 'debug'] as const

/** Every setting's flag and variable, in the order `--help` lists them. */
export const OPTIONS: readonly Option[] = [
  { flag: '--rtmp-port', env: 'RELAYCAST_RTMP_PORT', help: 'RTMP port (0: any free port)', apply: (c, v, s) => (c.rtmpPort = parsePort(v, s)) },
  { flag: '--rtmp-host', env: 'RELAYCAST_RTMP_HOST', help: 'address the RTMP listener binds', apply: (c, v) => (c.host = v) },
  { flag: '--rtmp-app', env: 'RELAYCAST_RTMP_APP', help: 'RTMP application name (rtmp://host/<app>)', apply: (c, v, s) => (c.app = parseName(v, s)) },
  { flag: '--data', env: 'RELAYCAST_DATA', help: 'data directory', apply: (c, v) => (c.dataDir = v) },
  { flag: '--ingest-url', env: 'RELAYCAST_INGEST_URL', help: 'public rtmp:// URL given to OBS', apply: (c, v, s) => (c.publicUrl = parseRtmpUrl(v, s)) },
  { flag: '--handshake-timeout', env: 'RELAYCAST_RTMP_HANDSHAKE_TIMEOUT', help: 'ms a connection may idle before publishing', apply: (c, v, s) => (c.handshakeTimeoutMs = parseInteger(v, s, 100)) },
  { flag: '--rtmp-max-connections', env: 'RELAYCAST_RTMP_MAX_CONNECTIONS', help: 'most RTMP connections at once', apply: (c, v, s) => (c.maxConnections = parseInteger(v, s, 1)) },
  { flag: '--rtmp-log', env: 'RELAYCAST_RTMP_LOG', help: `node-media-server log level (${LOG_LEVELS.join(', ')})`, apply: (c, v, s) => (c.libraryLogLevel = parseLogLevel(v, s)) },
]

/**
 * Pure: defaults, overlaid by `env`, overlaid by `argv` flags (`--rtmp-port 1935` or
 * `--rtmp-port=1935`). Flags that belong to other parts are skipped (`dvm` shares its argv), so
 * an unknown flag is not an error here. Throws ConfigError naming the bad flag or variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): Config {
  const config: Config = { ...DEFAULT_CONFIG }
  for (const option of OPTIONS) {
    const value = env[option.env]
    if (value !== undefined && value !== '') option.apply(config, value.trim(), option.env)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const option = OPTIONS.find((o) => o.flag === flag)
    if (!option) continue
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i]
    if (value === undefined) throw new ConfigError(`${flag} needs a value`)
    option.apply(config, value, flag)
  }
  return config
}

export function getConfigHelp(): string {
  const width = Math.max(...OPTIONS.map((o) => o.flag.length + 2))
  return OPTIONS.map((o) => `  ${`${o.flag} V`.padEnd(width)}  ${o.help} [${o.env}]`).join('\n')
}

function parseInteger(v: string, source: string, min: number): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) {
    throw new ConfigError(`${source} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`)
  }
  return n
}

function parsePort(v: string, source: string): number {
  const n = parseInteger(v, source, 0)
  if (n > 65535) throw new ConfigError(`${source} must be a port (0–65535), got ${n}`)
  return n
}

function parseName(v: string, source: string): string {
  // node-media-server ends connections whose app or stream name has any other character.
  if (!NAME.test(v)) throw new ConfigError(`${source} may only use A-Z a-z 0-9 _ -, got ${JSON.stringify(v)}`)
  return v
}

function parseRtmpUrl(v: string, source: string): string {
  let url: URL
  try {
    url = new URL(v)
  } catch (err) {
    throw new ConfigError(`${source} must be an rtmp:// or rtmps:// URL, got ${JSON.stringify(v)}`, { cause: err })
  }
  if (url.protocol !== 'rtmp:' && url.protocol !== 'rtmps:') throw new ConfigError(`${source} must be an rtmp:// or rtmps:// URL`)
  return v.replace(/\/+$/, '')
}

function parseLogLevel(v: string, source: string): Config['libraryLogLevel'] {
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new ConfigError(`${source} must be one of ${LOG_LEVELS.join(', ')}`)
  return v as Config['libraryLogLevel']
}
