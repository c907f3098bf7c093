import { formatCoordinate, getCoordinate } from './coordinate.ts'
import type { Coordinate } from './coordinate.ts'
import { isHex64 } from './event.ts'
import { KIND_LIVE_CHAT, KIND_LIVE_EVENT } from './kinds.ts'
import { invalid } from './reasons.ts'
import type { Rejection } from './reasons.ts'
import type { EventTemplate } from './types.ts'

/** NIP-53 live events (30311) and their chat (1311). */

export const LIVE_STATUSES = ['planned', 'live', 'ended'] as const
export type LiveStatus = (typeof LIVE_STATUSES)[number]

export interface LiveHost {
  pubkey: string
  relay?: string
  /** Displayable role, e.g. "Host", "Speaker", "Participant" (other clients also write "host"). */
  role: string
  /** NIP-53 proof of agreement, see host-proof.ts. */
  proof?: string
}

export interface LiveEvent {
  identifier: string
  title?: string
  summary?: string
  image?: string
  /** The first `t` tag. */
  category?: string
  /** The `t` tags after the category. */
  tags: string[]
  /** HLS master playlist URL. */
  streaming?: string
  recording?: string
  starts?: number
  ends?: number
  status: LiveStatus
  currentParticipants?: number
  totalParticipants?: number
  hosts: LiveHost[]
  relays: string[]
  /** false is written as `["chat","off"]`; relays enforcing it refuse chat. */
  chat: boolean
  /** Written as `["visibility","unlisted"]`: reachable by naddr, kept out of discovery. */
  unlisted: boolean
  /** Seconds a viewer waits between chat messages, as `["slow_mode","<s>"]` (ours; absent: off). */
  slowMode?: number
}

/** What a builder needs: lists and flags default to empty / chat on / listed. */
export type LiveEventInput = Omit<LiveEvent, 'tags' | 'hosts' | 'relays' | 'chat' | 'unlisted'> &
  Partial<Pick<LiveEvent, 'tags' | 'hosts' | 'relays' | 'chat' | 'unlisted'>>

const now = (): number => Math.floor(Date.now() / 1000)

/**
 * A 30311 template. `t` tags are written category first, so a reader takes the first `t` as
 * the category: tags given without a category read back with the first one as category.
 */
export function buildLiveEvent(input: LiveEventInput, created_at: number = now()): EventTemplate {
  const tags: string[][] = [['d', input.identifier]]
  const text = (name: string, value: string | undefined): void => {
    if (value !== undefined) tags.push([name, value])
  }
  const num = (name: string, value: number | undefined): void => {
    if (value !== undefined) tags.push([name, String(value)])
  }
  text('title', input.title)
  text('summary', input.summary)
  text('image', input.image)
  for (const t of [...(input.category !== undefined ? [input.category] : []), ...(input.tags ?? [])]) tags.push(['t', t])
  text('streaming', input.streaming)
  text('recording', input.recording)
  num('starts', input.starts)
  num('ends', input.ends)
  tags.push(['status', input.status])
  num('current_participants', input.currentParticipants)
  num('total_participants', input.totalParticipants)
  for (const h of input.hosts ?? []) {
    tags.push(h.proof !== undefined ? ['p', h.pubkey, h.relay ?? '', h.role, h.proof] : ['p', h.pubkey, h.relay ?? '', h.role])
  }
  if (input.relays && input.relays.length > 0) tags.push(['relays', ...input.relays])
  if (input.chat === false) tags.push(['chat', 'off'])
  if (input.unlisted) tags.push(['visibility', 'unlisted'])
  if (input.slowMode !== undefined && input.slowMode > 0) tags.push(['slow_mode', String(input.slowMode)])
  return { kind: KIND_LIVE_EVENT, created_at, tags, content: '' }
}

/**
 * Reads a 30311 from any client. Missing optional tags are simply absent; a missing or
 * unknown status reads as 'ended' so that nothing is ever shown live by accident.
 * Undefined only for another kind or a missing `d`.
 */
export function getLiveEvent(e: EventTemplate): LiveEvent | undefined {
  if (e.kind !== KIND_LIVE_EVENT) return undefined
  const identifier = first(e.tags, 'd')
  if (identifier === undefined) return undefined
  const topics = e.tags.filter((t) => t[0] === 't' && typeof t[1] === 'string').map((t) => t[1])
  const status = first(e.tags, 'status')
  const hosts: LiveHost[] = []
  for (const t of e.tags) {
    if (t[0] !== 'p' || !isHex64(t[1])) continue
    const host: LiveHost = { pubkey: t[1], role: t[3] || 'Participant' }
    if (t[2]) host.relay = t[2]
    if (t[4]) host.proof = t[4]
    hosts.push(host)
  }
  const live: LiveEvent = {
    identifier,
    tags: topics.slice(1),
    status: isLiveStatus(status) ? status : 'ended',
    hosts,
    relays: e.tags.filter((t) => t[0] === 'relays').flatMap((t) => t.slice(1)).filter((r) => r !== ''),
    chat: !e.tags.some((t) => t[0] === 'chat' && t[1] === 'off'),
    unlisted: e.tags.some((t) => t[0] === 'visibility' && t[1] === 'unlisted'),
  }
  const set = <K extends keyof LiveEvent>(key: K, value: LiveEvent[K] | undefined): void => {
    if (value !== undefined) live[key] = value
  }
  set('title', first(e.tags, 'title'))
  set('summary', first(e.tags, 'summary'))
  set('image', first(e.tags, 'image'))
  set('category', topics[0])
  set('streaming', first(e.tags, 'streaming'))
  set('recording', first(e.tags, 'recording'))
  set('starts', integer(first(e.tags, 'starts')))
  set('ends', integer(first(e.tags, 'ends')))
  set('currentParticipants', integer(first(e.tags, 'current_participants')))
  const slowMode = integer(first(e.tags, 'slow_mode'))
  if (slowMode !== undefined && slowMode > 0) live.slowMode = slowMode
  set('totalParticipants', integer(first(e.tags, 'total_participants')))
  return live
}

export function isLiveStatus(s: unknown): s is LiveStatus {
  return (LIVE_STATUSES as readonly unknown[]).includes(s)
}

/** NIP-53 role names are displayable and clients differ in case ("Host", "host"). */
export function isHostRole(role: string): boolean {
  return role.toLowerCase() === 'host'
}

export interface LiveNowOptions {
  now: number
  /** Seconds an author's last update keeps a live event live (NIP-53 suggests 1 h). */
  freshnessWindow?: number
  /** created_at of the newest service 31337 for this stream that says `live`. */
  lastServiceLiveAt?: number
  /** Seconds such a 31337 keeps the stream live. */
  serviceWindow?: number
}

/**
 * Live only while status=live and fresh: updated by its author within the freshness window, or
 * backed by a service saying `live` within the service window. Both windows are inclusive.
 */
export function isLiveNow(e: EventTemplate, opts: LiveNowOptions): boolean {
  const { now: at, freshnessWindow = 3600, lastServiceLiveAt, serviceWindow = 120 } = opts
  if (e.kind !== KIND_LIVE_EVENT || first(e.tags, 'status') !== 'live') return false
  if (at - e.created_at <= freshnessWindow) return true
  return lastServiceLiveAt !== undefined && at - lastServiceLiveAt <= serviceWindow
}

/**
 * What the relay refuses in a 30311. Other kinds pass (undefined): this is one policy among many.
 * Only what would break readers or the live-now index is refused; unknown tags are fine.
 */
export function validateLiveEvent(e: EventTemplate): Rejection | undefined {
  if (e.kind !== KIND_LIVE_EVENT) return undefined
  const d = first(e.tags, 'd')
  if (d === undefined || d === '') return invalid('live event needs a non-empty d tag')
  const statuses = e.tags.filter((t) => t[0] === 'status')
  if (statuses.length > 1) return invalid('live event has more than one status tag')
  if (statuses.length === 1 && !isLiveStatus(statuses[0][1])) {
    return invalid(`live event status must be planned, live or ended, not "${clip(String(statuses[0][1]))}"`)
  }
  for (const t of e.tags) {
    if (t[0] === 'streaming' && !isHlsUrl(t[1])) {
      return invalid(`streaming must be an http(s) URL of an HLS playlist ending in .m3u8, not "${clip(String(t[1]))}"`)
    }
    if ((t[0] === 'starts' || t[0] === 'ends' || t[0] === 'current_participants' || t[0] === 'total_participants') && integer(t[1]) === undefined) {
      return invalid(`${t[0]} must be a non-negative integer, not "${clip(String(t[1]))}"`)
    }
    if (t[0] === 'p' && !isHex64(t[1])) return invalid('p tag pubkey must be 64 lowercase hex characters')
    if (t[0] === 'relays' && !t.slice(1).every(isRelayUrl)) return invalid('relays tag must list ws:// or wss:// URLs')
  }
  return undefined
}

/** `streaming` as zap.stream and hls.js expect it: http(s), path ending in .m3u8 (query allowed). */
export function isHlsUrl(s: unknown): boolean {
  if (typeof s !== 'string') return false
  const url = parseUrl(s)
  return url !== undefined && (url.protocol === 'https:' || url.protocol === 'http:') && url.pathname.endsWith('.m3u8')
}

function isRelayUrl(s: unknown): boolean {
  if (typeof s !== 'string') return false
  const url = parseUrl(s)
  return url !== undefined && (url.protocol === 'wss:' || url.protocol === 'ws:')
}

// ---- 1311 live chat ----

export interface ChatReply {
  id: string
  relay?: string
}

/** NIP-53 `q`: an event id or address cited in the content, with a relay and (for ids) author. */
export interface ChatQuote {
  ref: string
  relay?: string
  pubkey?: string
}

export interface ChatMessageInput {
  coordinate: Coordinate
  /** Where the chat lives (the live event's relay); may be '' when unknown. */
  relay: string
  content: string
  replyTo?: ChatReply
  quote?: ChatQuote
}

export function buildChatMessage(input: ChatMessageInput, created_at: number = now()): EventTemplate {
  const tags: string[][] = [['a', formatCoordinate(input.coordinate), input.relay, 'root']]
  if (input.replyTo) tags.push(['e', input.replyTo.id, input.replyTo.relay ?? ''])
  if (input.quote) {
    const q = input.quote
    tags.push(q.pubkey !== undefined ? ['q', q.ref, q.relay ?? '', q.pubkey] : ['q', q.ref, q.relay ?? ''])
  }
  return { kind: KIND_LIVE_CHAT, created_at, tags, content: input.content }
}

export interface ChatTarget {
  coordinate: Coordinate
  relay?: string
}

/** The live event a 1311 belongs to: its `a` to a 30311, preferring the one marked root. */
export function getChatTarget(e: EventTemplate): ChatTarget | undefined {
  if (e.kind !== KIND_LIVE_CHAT) return undefined
  let found: ChatTarget | undefined
  for (const t of e.tags) {
    if (t[0] !== 'a' || typeof t[1] !== 'string') continue
    const coordinate = getCoordinate(t[1])
    if (!coordinate || coordinate.kind !== KIND_LIVE_EVENT) continue
    const target: ChatTarget = t[2] ? { coordinate, relay: t[2] } : { coordinate }
    if (t[3] === 'root') return target
    found ??= target
  }
  return found
}

export interface ChatMessage extends ChatTarget {
  content: string
  replyTo?: ChatReply
  quote?: ChatQuote
}

export function getChatMessage(e: EventTemplate): ChatMessage | undefined {
  const target = getChatTarget(e)
  if (!target) return undefined
  const message: ChatMessage = { ...target, content: e.content }
  const reply = e.tags.find((t) => t[0] === 'e' && isHex64(t[1]))
  if (reply) message.replyTo = reply[2] ? { id: reply[1], relay: reply[2] } : { id: reply[1] }
  const q = e.tags.find((t) => t[0] === 'q' && typeof t[1] === 'string' && t[1] !== '')
  if (q) {
    const quote: ChatQuote = { ref: q[1] }
    if (q[2]) quote.relay = q[2]
    if (q[3]) quote.pubkey = q[3]
    message.quote = quote
  }
  return message
}

// ---- small readers shared by this file ----

function first(tags: string[][], name: string): string | undefined {
  const t = tags.find((t) => t[0] === name && typeof t[1] === 'string')
  return t?.[1]
}

function integer(s: string | undefined): number | undefined {
  if (s === undefined || !/^[0-9]{1,15}$/.test(s)) return undefined
  return Number(s)
}

function parseUrl(s: string): URL | undefined {
  return URL.canParse(s) ? new URL(s) : undefined
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}
