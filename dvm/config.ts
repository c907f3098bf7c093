import { OPTIONS as INGEST_OPTIONS } from '../ingest/config.ts'
import { X264_PRESETS } from './hls-args.ts'
import type { X264Preset } from './hls-args.ts'

/** DVM settings (the ingest's own are in ingest/config.ts and share the same argv). */
export interface Config {
  /** The relay to take jobs from and publish to. */
  relayUrl: string
  /** Address the HLS origin binds; 0.0.0.0 lets players on other machines in. */
  httpHost: string
  /** HLS origin port; 0 picks a free one (tests). */
  httpPort: number
  /** Base of the HLS URLs put in results; unset: http://localhost:<port>. */
  publicUrl: string | undefined
  /** Data directory: service key, HLS output under <dataDir>/hls. */
  dataDir: string
  /** Pubkeys whose jobs are taken; undefined: open to anyone. */
  allowPubkeys: string[] | undefined
  /** Also take requests that name no DVM (no `p` tag). */
  acceptUntargeted: boolean
  /** Concurrent streams: one video ladder is what 2 cores carry with headroom. */
  maxStreams: number
  /** Most video renditions in one job. */
  maxRenditions: number
  /** libx264 preset; unset: the pipeline's default. */
  preset: X264Preset | undefined
  /** HLS segment length; unset: the pipeline's default. */
  segmentSeconds: number | undefined
  /** How long a publisher may be gone before its stream ends. */
  graceMs: number
  /** Between 31337 health events of a live stream. */
  metricsIntervalMs: number
  /** Between 31990 announcements. */
  announceIntervalMs: number
  /** HLS files of ended streams are removed after this. */
  retentionMs: number
  /** Name in the 31990 announcement. */
  name: string
  /** Lowest level printed. */
  logLevel: 'debug' | 'info' | 'warn' | 'error'
}

export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze({
  relayUrl: 'ws://127.0.0.1:7777',
  httpHost: '0.0.0.0',
  httpPort: 8088,
  publicUrl: undefined,
  dataDir: './data',
  allowPubkeys: undefined,
  acceptUntargeted: false,
  maxStreams: 1,
  maxRenditions: 4,
  preset: undefined,
  segmentSeconds: undefined,
  graceMs: 30_000,
  metricsIntervalMs: 5_000,
  announceIntervalMs: 15 * 60_000,
  retentionMs: 60 * 60_000,
  name: 'Relaycast transcoder',
  logLevel: 'info',
})

/** The base every HLS URL starts with. */
export function getPublicUrl(config: Pick<Config, 'publicUrl' | 'httpPort'>, boundPort?: number): string {
  return config.publicUrl ?? `http://localhost:${boundPort ?? config.httpPort}`
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

interface Option {
  flag: string
  env: string
  help: string
  boolean?: boolean
  apply(config: Config, value: string, source: string): void
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const

export const OPTIONS: readonly Option[] = [
  { flag: '--relay', env: 'RELAYCAST_DVM_RELAY', help: 'relay ws(s):// URL to take jobs from', apply: (c, v, s) => (c.relayUrl = parseUrl(v, s, ['ws:', 'wss:'])) },
  { flag: '--http-port', env: 'RELAYCAST_HTTP_PORT', help: 'HLS origin port (0: any free port)', apply: (c, v, s) => (c.httpPort = parsePort(v, s)) },
  { flag: '--http-host', env: 'RELAYCAST_HTTP_HOST', help: 'address the HLS origin binds', apply: (c, v) => (c.httpHost = v) },
  { flag: '--public-url', env: 'RELAYCAST_PUBLIC_URL', help: 'public http(s):// base of the HLS URLs', apply: (c, v, s) => (c.publicUrl = parseUrl(v, s, ['http:', 'https:'])) },
  { flag: '--data', env: 'RELAYCAST_DATA', help: 'data directory (service key, HLS files)', apply: (c, v) => (c.dataDir = v) },
  { flag: '--allow', env: 'RELAYCAST_DVM_ALLOW', help: 'comma-separated hex pubkeys allowed to request (default: anyone)', apply: (c, v, s) => (c.allowPubkeys = parsePubkeys(v, s)) },
  { flag: '--untargeted', env: 'RELAYCAST_DVM_UNTARGETED', help: 'also take requests that name no DVM', boolean: true, apply: (c, v, s) => (c.acceptUntargeted = parseBool(v, s)) },
  { flag: '--max-streams', env: 'RELAYCAST_DVM_MAX_STREAMS', help: 'concurrent streams', apply: (c, v, s) => (c.maxStreams = parseInteger(v, s, 1)) },
  { flag: '--max-renditions', env: 'RELAYCAST_DVM_MAX_RENDITIONS', help: 'most video renditions per job', apply: (c, v, s) => (c.maxRenditions = parseInteger(v, s, 1)) },
  { flag: '--preset', env: 'RELAYCAST_DVM_PRESET', help: `libx264 preset (${X264_PRESETS.join(', ')})`, apply: (c, v, s) => (c.preset = parsePreset(v, s)) },
  { flag: '--segment-seconds', env: 'RELAYCAST_DVM_SEGMENT_SECONDS', help: 'HLS segment length in seconds', apply: (c, v, s) => (c.segmentSeconds = parseSeconds(v, s)) },
  { flag: '--grace', env: 'RELAYCAST_DVM_GRACE', help: 'seconds a publisher may be gone before the stream ends', apply: (c, v, s) => (c.graceMs = parseInteger(v, s, 0) * 1000) },
  { flag: '--metrics-interval', env: 'RELAYCAST_DVM_METRICS_INTERVAL', help: 'seconds between 31337 health events', apply: (c, v, s) => (c.metricsIntervalMs = parseInteger(v, s, 1) * 1000) },
  { flag: '--retention', env: 'RELAYCAST_DVM_RETENTION', help: 'seconds the HLS files of an ended stream are kept', apply: (c, v, s) => (c.retentionMs = parseInteger(v, s, 0) * 1000) },
  { flag: '--name', env: 'RELAYCAST_DVM_NAME', help: 'name in the 31990 announcement', apply: (c, v) => (c.name = v) },
  { flag: '--log', env: 'RELAYCAST_DVM_LOG', help: `log level (${LOG_LEVELS.join(', ')})`, apply: (c, v, s) => (c.logLevel = parseLogLevel(v, s)) },
]

/**
 * Pure: defaults, overlaid by `env`, overlaid by `argv`. Ingest's flags (same argv) are skipped;
 * any other unknown flag is an error. Throws ConfigError naming the bad flag or variable.
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
    if (!option) {
      if (!INGEST_OPTIONS.some((o) => o.flag === flag)) throw new ConfigError(`unknown option ${JSON.stringify(arg)} (see --help)`)
      if (eq < 0) i++ // ingest's flags all take a value
      continue
    }
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined
    if (value === undefined) value = option.boolean ? 'true' : argv[++i]
    if (value === undefined) throw new ConfigError(`${flag} needs a value`)
    option.apply(config, value, flag)
  }
  return config
}

export function getConfigHelp(): string {
  const width = Math.max(...OPTIONS.map((o) => o.flag.length + 2))
  return OPTIONS.map((o) => `  ${(o.boolean ? o.flag : `${o.flag} V`).padEnd(width)}  ${o.help} [${o.env}]`).join('\n')
}

function parseInteger(v: string, source: string, min: number): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new ConfigError(`${source} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`)
  return n
}

function parsePort(v: string, source: string): number {
  const n = parseInteger(v, source, 0)
  if (n > 65535) throw new ConfigError(`${source} must be a port (0–65535), got ${n}`)
  return n
}

function parseSeconds(v: string, source: string): number {
  const n = Number(v)
  // Below 1 s ffmpeg writes #EXT-X-TARGETDURATION:0 (invalid HLS) and players gain nothing.
  if (!/^\d+(\.\d+)?$/.test(v) || !(n >= 1 && n <= 10)) throw new ConfigError(`${source} must be seconds from 1 to 10, got ${JSON.stringify(v)}`)
  return n
}

function parseBool(v: string, source: string): boolean {
  if (v === 'true' || v === '1') return true
  if (v === 'false' || v === '0') return false
  throw new ConfigError(`${source} must be true or false, got ${JSON.stringify(v)}`)
}

function parseUrl(v: string, source: string, protocols: string[]): string {
  let url: URL
  try {
    url = new URL(v)
  } catch (err) {
    throw new ConfigError(`${source} must be a ${protocols.join(' or ')} URL, got ${JSON.stringify(v)}`, { cause: err })
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError(`${source} must be a ${protocols.join(' or ')} URL`)
  return v.replace(/\/+$/, '')
}

function parsePubkeys(v: string, source: string): string[] {
  const keys = v.split(',').map((s) => s.trim()).filter((s) => s !== '')
  for (const k of keys) if (!/^[0-9a-f]{64}$/.test(k)) throw new ConfigError(`${source}: ${JSON.stringify(k.slice(0, 70))} is not a 64-character lowercase hex pubkey`)
  return keys
}

function parsePreset(v: string, source: string): X264Preset {
  if (!(X264_PRESETS as readonly string[]).includes(v)) throw new ConfigError(`${source} must be one of ${X264_PRESETS.join(', ')}`)
  return v as X264Preset
}

function parseLogLevel(v: string, source: string): Config['logLevel'] {
  if (!(LOG_LEVELS as readonly string[]).includes(v)) throw new ConfigError(`${source} must be one of ${LOG_LEVELS.join(', ')}`)
  return v as Config['logLevel']
}
