import { DEFAULT_LIMITS } from '../protocol/limits.ts'
import type { Limits } from '../protocol/limits.ts'

/** Relay settings. Every key has a default; `loadConfig` overlays the environment, then flags. */
export interface Config {
  /** TCP port for WebSocket and HTTP (NIP-11, /health, static files); 0 picks a free one. */
  port: number
  /** Address to bind; 0.0.0.0 accepts connections from other machines. */
  host: string
  /** Directory holding the database and the relay's service key (created on first start). */
  dataDir: string
  /** Public ws(s):// URL of this relay, checked against NIP-42 `relay` tags; unset: the Host the client used. */
  publicUrl: string | undefined
  /** Directory served over HTTP (the web client); unset: only NIP-11 and /health are served. */
  staticDir: string | undefined
  /** Take the client IP from X-Forwarded-For: only when a reverse proxy you run sets it. */
  trustProxy: boolean
  /** NIP-11 name. */
  name: string
  /** NIP-11 description. */
  description: string
  /** NIP-11 contact (URI or email); empty: none advertised. */
  contact: string
  /** NIP-11 operator pubkey (hex); empty: none advertised. */
  operatorPubkey: string
  /** Caps on messages, filters and events, shared with the parsers and advertised in NIP-11. */
  limits: Limits
  /** Events per second each IP may publish, sustained (token bucket refill rate). */
  ipEventsPerSecond: number
  /** Events an IP may publish in one burst (bucket size). */
  ipEventBurst: number
  /** Events per second each pubkey may publish, sustained. */
  pubkeyEventsPerSecond: number
  /** Events a pubkey may publish in one burst. */
  pubkeyEventBurst: number
  /** Refuse EVENTs from connections that have not authenticated (NIP-42). */
  authRequiredForWrites: boolean
  /** Kinds accepted for publishing; undefined accepts every kind. */
  allowedKinds: number[] | undefined
  /** How far in the future an event's created_at may be, in seconds. */
  createdAtMaxFutureSeconds: number
  /** How far in the past an event's created_at may be, in seconds; 0 means no limit. */
  createdAtMaxPastSeconds: number
  /** A 30311 counts as live only if its author updated it within this many seconds. */
  freshnessSeconds: number
  /** …or if a service (a transcoder, another relay) published a 31337 saying `live` within this many seconds. */
  serviceLiveWindowSeconds: number
  /** A viewer's 10312 presence counts them as watching for this many seconds (clients refresh it every few minutes). */
  presenceWindowSeconds: number
  /** How often the relay checks viewer counts and publishes its 31337 for streams whose figures changed. */
  viewerMetricsIntervalSeconds: number
  /** Chat slow mode: one 1311 per this many seconds per pubkey per stream, after a burst (0: off). */
  chatSlowModeSeconds: number
  /** Chat slow mode: messages a pubkey may send to one stream in a burst. */
  chatSlowModeBurst: number
  /** A NIP-42 AUTH event's created_at must be within this many seconds of now. */
  authWindowSeconds: number
  /** Drop a connection whose unsent output exceeds this many bytes (it is not reading). */
  maxBufferedBytes: number
  /** Messages one connection may have in progress (EVENTs not yet answered, REQ/COUNT queries); more are refused. */
  maxPendingPerConnection: number
  /** Most events written in one LMDB transaction. */
  writeBatchMax: number
  /** LMDB transactions started before the previous one is durable (each OK still waits for its own). */
  writeBatchesInFlight: number
  /** Signatures verified before yielding to the event loop, so big bursts do not stall it. */
  verifyChunk: number
  /** Check signatures on a worker thread (native backend only), beside the main thread; 0: on the main thread. */
  verifyThreads: number
  /** Seconds between sweeps of expired (NIP-40) events from the database. */
  sweepIntervalSeconds: number
  /** NIP-77: a NEG-OPEN whose filter matches more stored events than this is refused (each session holds its records in memory). */
  negentropyMaxRecords: number
  /** NIP-77: open negentropy sessions per connection. */
  negentropyMaxSessions: number
}

export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze({
  port: 7777,
  host: '127.0.0.1',
  dataDir: './data',
  publicUrl: undefined,
  staticDir: undefined,
  trustProxy: false,
  name: 'Relaycast relay',
  description: 'A Nostr relay built for live streams (NIP-53): live-now queries, viewer counts, chat rules.',
  contact: '',
  operatorPubkey: '',
  limits: DEFAULT_LIMITS,
  ipEventsPerSecond: 20,
  ipEventBurst: 200,
  pubkeyEventsPerSecond: 10,
  pubkeyEventBurst: 100,
  authRequiredForWrites: false,
  allowedKinds: undefined,
  createdAtMaxFutureSeconds: 15 * 60,
  createdAtMaxPastSeconds: 0,
  freshnessSeconds: 3600,
  serviceLiveWindowSeconds: 120,
  presenceWindowSeconds: 5 * 60,
  viewerMetricsIntervalSeconds: 5,
  chatSlowModeSeconds: 2,
  chatSlowModeBurst: 3,
  authWindowSeconds: 10 * 60,
  maxBufferedBytes: 16 * 1024 * 1024,
  maxPendingPerConnection: 1000,
  writeBatchMax: 1000,
  writeBatchesInFlight: 3,
  verifyChunk: 256,
  verifyThreads: 1,
  sweepIntervalSeconds: 60,
  negentropyMaxRecords: 500_000,
  negentropyMaxSessions: 8,
})

/** A flag or variable with a bad value; the message names it and says what is expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError'
}

interface Option {
  flag: string
  env: string
  help: string
  /** Flags that take no value (`--trust-proxy`) are booleans. */
  boolean?: true
  apply(config: Config, value: string, source: string): void
}

const int =
  (key: NumberKey, min = 0) =>
  (c: Config, v: string, source: string) => {
    c[key] = parseInteger(v, source, min)
  }
const limit =
  (key: keyof Limits, min = 1) =>
  (c: Config, v: string, source: string) => {
    c.limits = { ...c.limits, [key]: parseInteger(v, source, min) }
  }
const text = (key: TextKey) => (c: Config, v: string) => {
  c[key] = v
}
const bool = (key: BoolKey) => (c: Config, v: string, source: string) => {
  c[key] = parseBoolean(v, source)
}

type NumberKey = { [K in keyof Config]: Config[K] extends number ? K : never }[keyof Config]
type TextKey = 'host' | 'dataDir' | 'name' | 'description' | 'contact'
type BoolKey = 'trustProxy' | 'authRequiredForWrites'

/** Every setting's flag and variable, in the order `--help` lists them. */
export const OPTIONS: readonly Option[] = [
  { flag: '--port', env: 'RELAYCAST_RELAY_PORT', help: 'port for WebSocket and HTTP (0: any free port)', apply: int('port') },
  { flag: '--host', env: 'RELAYCAST_RELAY_HOST', help: 'address to bind (0.0.0.0: all interfaces)', apply: text('host') },
  { flag: '--data', env: 'RELAYCAST_DATA', help: 'data directory (database, service key)', apply: text('dataDir') },
  { flag: '--public-url', env: 'RELAYCAST_RELAY_URL', help: 'public ws(s):// URL, checked in NIP-42 AUTH', apply: (c, v, s) => (c.publicUrl = parseWsUrl(v, s)) },
  { flag: '--static', env: 'RELAYCAST_RELAY_STATIC', help: 'directory served over HTTP (the web client)', apply: (c, v) => (c.staticDir = v || undefined) },
  { flag: '--trust-proxy', env: 'RELAYCAST_RELAY_TRUST_PROXY', help: 'take client IPs from X-Forwarded-For', boolean: true, apply: bool('trustProxy') },
  { flag: '--name', env: 'RELAYCAST_RELAY_NAME', help: 'NIP-11 name', apply: text('name') },
  { flag: '--description', env: 'RELAYCAST_RELAY_DESCRIPTION', help: 'NIP-11 description', apply: text('description') },
  { flag: '--contact', env: 'RELAYCAST_RELAY_CONTACT', help: 'NIP-11 contact', apply: text('contact') },
  { flag: '--operator', env: 'RELAYCAST_RELAY_OPERATOR', help: 'NIP-11 operator pubkey (hex)', apply: (c, v, s) => (c.operatorPubkey = parsePubkey(v, s)) },
  { flag: '--auth-required', env: 'RELAYCAST_RELAY_AUTH_REQUIRED', help: 'require NIP-42 AUTH before EVENT', boolean: true, apply: bool('authRequiredForWrites') },
  { flag: '--allowed-kinds', env: 'RELAYCAST_RELAY_ALLOWED_KINDS', help: 'comma-separated kinds accepted (default: all)', apply: (c, v, s) => (c.allowedKinds = parseKinds(v, s)) },
  { flag: '--ip-rate', env: 'RELAYCAST_RELAY_IP_RATE', help: 'events/second per IP, sustained', apply: int('ipEventsPerSecond', 1) },
  { flag: '--ip-burst', env: 'RELAYCAST_RELAY_IP_BURST', help: 'events per IP in one burst', apply: int('ipEventBurst', 1) },
  { flag: '--pubkey-rate', env: 'RELAYCAST_RELAY_PUBKEY_RATE', help: 'events/second per pubkey, sustained', apply: int('pubkeyEventsPerSecond', 1) },
  { flag: '--pubkey-burst', env: 'RELAYCAST_RELAY_PUBKEY_BURST', help: 'events per pubkey in one burst', apply: int('pubkeyEventBurst', 1) },
  { flag: '--max-future', env: 'RELAYCAST_RELAY_MAX_FUTURE', help: 'seconds created_at may be ahead of now', apply: int('createdAtMaxFutureSeconds') },
  { flag: '--max-past', env: 'RELAYCAST_RELAY_MAX_PAST', help: 'seconds created_at may be behind now (0: no limit)', apply: int('createdAtMaxPastSeconds') },
  { flag: '--freshness', env: 'RELAYCAST_RELAY_FRESHNESS', help: 'seconds a 30311 stays live without an update', apply: int('freshnessSeconds', 1) },
  { flag: '--service-window', env: 'RELAYCAST_RELAY_SERVICE_WINDOW', help: 'seconds a service 31337 "live" keeps a 30311 live', apply: int('serviceLiveWindowSeconds', 1) },
  { flag: '--presence-window', env: 'RELAYCAST_RELAY_PRESENCE_WINDOW', help: 'seconds a 10312 presence counts as a viewer', apply: int('presenceWindowSeconds', 1) },
  { flag: '--metrics-interval', env: 'RELAYCAST_RELAY_METRICS_INTERVAL', help: 'seconds between viewer-count checks (31337 published on change)', apply: int('viewerMetricsIntervalSeconds', 1) },
  { flag: '--chat-slow-mode', env: 'RELAYCAST_RELAY_CHAT_SLOW_MODE', help: 'chat: seconds per 1311 per pubkey per stream (0: off)', apply: int('chatSlowModeSeconds') },
  { flag: '--chat-burst', env: 'RELAYCAST_RELAY_CHAT_BURST', help: 'chat: 1311s per pubkey per stream in a burst', apply: int('chatSlowModeBurst', 1) },
  { flag: '--max-message-bytes', env: 'RELAYCAST_RELAY_MAX_MESSAGE_BYTES', help: 'largest client message', apply: limit('maxMessageBytes', 1024) },
  { flag: '--max-subscriptions', env: 'RELAYCAST_RELAY_MAX_SUBSCRIPTIONS', help: 'open subscriptions per connection', apply: limit('maxSubscriptions') },
  { flag: '--max-limit', env: 'RELAYCAST_RELAY_MAX_LIMIT', help: 'largest filter limit honoured', apply: limit('maxLimit') },
  { flag: '--verify-threads', env: 'RELAYCAST_RELAY_VERIFY_THREADS', help: 'signature checks on a worker thread (1) or the main thread (0)', apply: int('verifyThreads') },
  { flag: '--max-buffered-bytes', env: 'RELAYCAST_RELAY_MAX_BUFFERED_BYTES', help: 'unsent bytes before a slow client is dropped', apply: int('maxBufferedBytes', 1024) },
  { flag: '--neg-max-records', env: 'RELAYCAST_RELAY_NEG_MAX_RECORDS', help: 'NIP-77: most events one negentropy session may cover', apply: int('negentropyMaxRecords', 1) },
  { flag: '--neg-max-sessions', env: 'RELAYCAST_RELAY_NEG_MAX_SESSIONS', help: 'NIP-77: negentropy sessions per connection', apply: int('negentropyMaxSessions', 1) },
]

/**
 * Pure: defaults, overlaid by `env`, overlaid by `argv` flags (`--port 7777`, `--port=7777`,
 * bare `--trust-proxy`). Throws ConfigError naming the bad flag or variable.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): Config {
  const config: Config = { ...DEFAULT_CONFIG, limits: { ...DEFAULT_CONFIG.limits } }
  for (const option of OPTIONS) {
    const value = env[option.env]
    if (value !== undefined && value !== '') option.apply(config, value.trim(), option.env)
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const eq = arg.indexOf('=')
    const flag = eq > 0 ? arg.slice(0, eq) : arg
    const option = OPTIONS.find((o) => o.flag === flag)
    if (!option) throw new ConfigError(`unknown option ${JSON.stringify(arg)} (see --help)`)
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : undefined
    if (value === undefined) value = option.boolean ? 'true' : argv[++i]
    if (value === undefined) throw new ConfigError(`${flag} needs a value`)
    option.apply(config, value, flag)
  }
  if (config.limits.defaultLimit > config.limits.maxLimit) config.limits.defaultLimit = config.limits.maxLimit
  return config
}

/** The flag and variable list for `relaycast relay --help`. */
export function getConfigHelp(): string {
  const width = Math.max(...OPTIONS.map((o) => o.flag.length + (o.boolean ? 0 : 2)))
  return OPTIONS.map((o) => {
    const flag = o.boolean ? o.flag : `${o.flag} V`
    return `  ${flag.padEnd(width)}  ${o.help} [${o.env}]`
  }).join('\n')
}

function parseInteger(v: string, source: string, min: number): number {
  const n = Number(v)
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) {
    throw new ConfigError(`${source} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`)
  }
  return n
}

function parseBoolean(v: string, source: string): boolean {
  if (/^(1|true|yes|on)$/i.test(v)) return true
  if (/^(0|false|no|off)$/i.test(v)) return false
  throw new ConfigError(`${source} must be true or false, got ${JSON.stringify(v)}`)
}

function parseKinds(v: string, source: string): number[] | undefined {
  if (v === '' || v === '*' || v === 'all') return undefined
  return v.split(',').map((k) => {
    const n = parseInteger(k.trim(), source, 0)
    if (n > 65535) throw new ConfigError(`${source}: kind ${n} is out of range`)
    return n
  })
}

function parseWsUrl(v: string, source: string): string {
  let url: URL
  try {
    url = new URL(v)
  } catch (err) {
    throw new ConfigError(`${source} must be a ws:// or wss:// URL, got ${JSON.stringify(v)}`, { cause: err })
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new ConfigError(`${source} must be a ws:// or wss:// URL`)
  return url.href
}

function parsePubkey(v: string, source: string): string {
  if (!/^[0-9a-f]{64}$/.test(v)) throw new ConfigError(`${source} must be a 64-character lowercase hex pubkey`)
  return v
}
