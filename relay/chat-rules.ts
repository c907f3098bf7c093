import { formatCoordinate, getCoordinate } from '../protocol/coordinate.ts'
import type { Coordinate } from '../protocol/coordinate.ts'
import { getDeletionTargets } from '../protocol/deletion.ts'
import { KIND_DELETION, KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_MUTE_LIST } from '../protocol/kinds.ts'
import { getChatTarget, getLiveEvent, isHostRole } from '../protocol/nip53.ts'
import { blocked, rateLimited } from '../protocol/reasons.ts'
import type { Rejection } from '../protocol/reasons.ts'
import type { NostrEvent } from '../protocol/types.ts'
import type { Config } from './config.ts'
import type { RelayApi, RelayExtension } from './hooks.ts'
import { createLookupCache } from './lookup-cache.ts'
import type { Policy } from './policies.ts'

/**
 * Chat rules for 1311 (DESIGN.md "Chat rules, enforced"):
 * - chat off (`["chat","off"]` on the 30311) → refused;
 * - a pubkey on a host's mute list (kind 10000 public `p` tags) → refused in that host's streams;
 * - slow mode: per pubkey per stream, `chatSlowModeBurst` messages, then one per
 *   `chatSlowModeSeconds`, for chat written in the last minute; a stream's own `["slow_mode",s]`
 *   adds one message per s seconds (hosts and moderators are exempt from mutes and slow mode);
 * - a kind 5 from a host or a moderator (`p` with role "Moderator", any case) that `e`-targets a
 *   chat message in the stream removes it before the deleter's OK; it cannot be sent again.
 * Hosts are the 30311's author plus `p` tags with role "Host" (zap.stream signs with its own key
 * and names the streamer so). Chat to a stream this relay does not hold is accepted: other clients
 * chat on streams published elsewhere; the coordinate's author still counts as its host, so that
 * host's mute list and deletions apply.
 */

export type ChatRulesSettings = Pick<Config, 'chatSlowModeSeconds' | 'chatSlowModeBurst'>

interface StreamRules {
  id: string
  chat: boolean
  hosts: string[]
  moderators: string[]
  /** The host's own pace (`["slow_mode",s]`): one message per s seconds, beside the relay's. */
  slowMode: number
}

interface MuteList {
  id: string
  muted: Set<string>
}

/** Host `p` tags looked at per stream: each costs a mute-list lookup. */
const MAX_EXTRA_HOSTS = 3
const CACHE_ENTRIES = 10_000
/**
 * Slow mode paces live chat: older messages (history arriving through relay-to-relay sync or a
 * client's backfill) are not slowed. A pubkey can always rotate keys, so the per-IP limits stay
 * the backstop either way.
 */
const SLOW_MODE_RECENT_SECONDS = 60
/** Ids removed by moderators, remembered (oldest forgotten first) so they cannot come back. */
const MAX_REMOVED = 100_000

export function getStreamRules(e: NostrEvent): StreamRules | undefined {
  const live = getLiveEvent(e)
  if (!live) return undefined
  const extra = live.hosts.filter((h) => isHostRole(h.role) && h.pubkey !== e.pubkey).map((h) => h.pubkey)
  return {
    id: e.id,
    chat: live.chat,
    hosts: [e.pubkey, ...new Set(extra)].slice(0, 1 + MAX_EXTRA_HOSTS),
    moderators: live.hosts.filter((h) => h.role.toLowerCase() === 'moderator').map((h) => h.pubkey),
    slowMode: live.slowMode ?? 0,
  }
}

export function getMuteList(e: NostrEvent): MuteList {
  return { id: e.id, muted: new Set(e.tags.filter((t) => t[0] === 'p' && typeof t[1] === 'string').map((t) => t[1])) }
}

/**
 * Token buckets on the relay's clock (unix seconds, injectable): `take` answers 0 when a message
 * may go, else the whole seconds to wait. Full buckets are forgotten once a minute.
 */
export function createSlowMode(intervalSeconds: number, burst: number) {
  const buckets = new Map<string, { tokens: number; at: number }>()
  let prunedAt = 0
  const refill = (b: { tokens: number; at: number }, now: number): number => Math.min(burst, b.tokens + (now - b.at) / intervalSeconds)
  return {
    take(key: string, now: number): number {
      if (intervalSeconds <= 0) return 0
      if (now - prunedAt >= 60) {
        prunedAt = now
        for (const [k, b] of buckets) if (refill(b, now) >= burst) buckets.delete(k)
      }
      const b = buckets.get(key) ?? { tokens: burst, at: now }
      b.tokens = refill(b, now)
      b.at = now
      buckets.set(key, b)
      if (b.tokens < 1) return Math.max(1, Math.ceil((1 - b.tokens) * intervalSeconds))
      b.tokens -= 1
      return 0
    },
    get size() {
      return buckets.size
    },
  }
}

/**
 * A stream's own slow mode: one message per `seconds` (the host may change it at any time, so
 * it is passed on each take). Answers 0 when a message may go, else the whole seconds to wait.
 */
export function createStreamPace() {
  const last = new Map<string, number>()
  let prunedAt = 0
  /** Longest pace a host can ask of the relay's memory: older entries can no longer slow anyone. */
  const MAX_SECONDS = 3600
  return {
    take(key: string, now: number, seconds: number): number {
      if (now - prunedAt >= 60) {
        prunedAt = now
        for (const [k, at] of last) if (now - at >= MAX_SECONDS) last.delete(k)
      }
      const pace = Math.min(seconds, MAX_SECONDS)
      const at = last.get(key)
      if (at !== undefined && now - at < pace) return pace - (now - at)
      last.set(key, now)
      return 0
    },
    get size() {
      return last.size
    },
  }
}

export function createChatRulesExtension(settings: ChatRulesSettings): RelayExtension {
  let api: RelayApi | undefined
  const store = () => {
    if (!api) throw new Error('chat rules: used before start')
    return api.store
  }
  const streams = createLookupCache<StreamRules | null>({
    max: CACHE_ENTRIES,
    eventIdOf: (s) => s?.id,
    async load(coord) {
      const c = getCoordinate(coord) as Coordinate
      const [e] = await store().query([{ kinds: [KIND_LIVE_EVENT], authors: [c.pubkey], '#d': [c.identifier], limit: 1 }])
      return (e && getStreamRules(e)) ?? null
    },
  })
  const mutes = createLookupCache<MuteList | null>({
    max: CACHE_ENTRIES,
    eventIdOf: (m) => m?.id,
    async load(pubkey) {
      const [e] = await store().query([{ kinds: [KIND_MUTE_LIST], authors: [pubkey], limit: 1 }])
      return e ? getMuteList(e) : null
    },
  })
  const removed = new Set<string>()
  const slowMode = createSlowMode(settings.chatSlowModeSeconds, settings.chatSlowModeBurst)
  const streamPace = createStreamPace()

  const hostsOf = (c: Coordinate, s: StreamRules | null): string[] => s?.hosts ?? [c.pubkey]
  const mayModerate = (pubkey: string, c: Coordinate, s: StreamRules | null): boolean =>
    hostsOf(c, s).includes(pubkey) || s?.moderators.includes(pubkey) === true

  const chatPolicy: Policy = (event, ctx) => {
    if (event.kind !== KIND_LIVE_CHAT) return undefined
    if (removed.has(event.id)) return blocked('removed by a moderator')
    const target = getChatTarget(event)
    if (!target) return undefined
    const coord = formatCoordinate(target.coordinate)
    const judge = (s: StreamRules | null): Rejection | undefined | Promise<Rejection | undefined> => {
      if (s?.chat === false) return blocked('chat is off for this stream')
      if (mayModerate(event.pubkey, target.coordinate, s)) return undefined
      const lists = hostsOf(target.coordinate, s).map((h) => mutes.get(h))
      const finish = (ls: (MuteList | null)[]): Rejection | undefined => {
        if (ls.some((l) => l?.muted.has(event.pubkey))) return blocked('you are muted in this stream')
        // History and relay sync (a local connection) are not live chat typed now.
        if (ctx.client.local || event.created_at < ctx.now - SLOW_MODE_RECENT_SECONDS) return undefined
        const key = `${event.pubkey} ${coord}`
        // The host's pace first: a message it refuses must not spend the relay's burst.
        const wait = (s?.slowMode ? streamPace.take(key, ctx.now, s.slowMode) : 0) || slowMode.take(key, ctx.now)
        return wait > 0 ? rateLimited(`slow mode: wait ${wait}s`) : undefined
      }
      return lists.some((l) => l instanceof Promise) ? Promise.all(lists).then(finish) : finish(lists as (MuteList | null)[])
    }
    const stream = streams.get(coord)
    return stream instanceof Promise ? stream.then(judge) : judge(stream)
  }

  function remember(ids: string[]): void {
    for (const id of ids) {
      removed.delete(id)
      removed.add(id)
    }
    for (const id of removed) {
      if (removed.size <= MAX_REMOVED) break
      removed.delete(id)
    }
  }

  /** A host's or moderator's kind 5 removes the chat it targets in their stream. */
  async function moderate(self: RelayApi, del: NostrEvent): Promise<void> {
    const { ids } = getDeletionTargets(del)
    if (ids.length === 0) return
    const targets = await self.store.query([{ ids, kinds: [KIND_LIVE_CHAT] }])
    const allowed: string[] = []
    for (const chat of targets) {
      const target = getChatTarget(chat)
      // The author's own deletion was already applied by the store (NIP-09).
      if (!target || chat.pubkey === del.pubkey) continue
      if (mayModerate(del.pubkey, target.coordinate, await streams.get(formatCoordinate(target.coordinate)))) allowed.push(chat.id)
    }
    if (allowed.length === 0) return
    remember(allowed)
    await self.exclusive(() => self.store.remove(allowed))
    // The record that outlives a restart: the relay's own kind 5 naming what it removed (under
    // NIP-09 it deletes nothing, since none of these events are the relay's).
    const record = await self.sign({
      kind: KIND_DELETION,
      created_at: self.now(),
      tags: [...allowed.map((id) => ['e', id]), ['k', String(KIND_LIVE_CHAT)]],
      content: `removed by a moderator (${del.id})`,
    })
    const written = await self.publish(record)
    if (!written.ok) self.log.error(`chat rules: could not store the removal record: ${written.reason}`)
  }

  /** Ids removed before the last restart, from the relay's own removal records (newest kept). */
  async function recall(self: RelayApi): Promise<void> {
    const records = await self.store.query([{ kinds: [KIND_DELETION], authors: [self.pubkey], limit: MAX_REMOVED }])
    for (const record of records.reverse()) remember(getDeletionTargets(record).ids)
  }

  return {
    name: 'chat-rules',
    info: {
      chat_rules: {
        description:
          'kind 1311 is refused when the stream has ["chat","off"], when the author is on a host\'s kind 10000 mute list, or faster than slow mode allows (the relay\'s pace below, and the stream\'s own ["slow_mode","<seconds>"]); a kind 5 from a host or a p-tagged Moderator removes chat in the stream, and the relay records the removal as its own kind 5 (NIP-11 self) so removed chat stays out after a restart. Chat to streams this relay does not hold is accepted.',
        slow_mode: { burst: settings.chatSlowModeBurst, seconds_per_message: settings.chatSlowModeSeconds },
      },
    },
    policies: [chatPolicy],
    start(relayApi) {
      api = relayApi
      return recall(relayApi)
    },
    afterCommit(event, result) {
      if (event.kind === KIND_LIVE_EVENT) {
        const rules = getStreamRules(event)
        if (rules) streams.refresh(`${KIND_LIVE_EVENT}:${event.pubkey}:${getLiveEvent(event)?.identifier}`, rules)
      } else if (event.kind === KIND_MUTE_LIST) {
        mutes.refresh(event.pubkey, getMuteList(event))
      } else if (event.kind === KIND_DELETION) {
        for (const id of result.removed) {
          streams.deleteByEventId(id)
          mutes.deleteByEventId(id)
        }
      }
    },
    beforeOk(event) {
      // The relay's own removal records name chat it already removed.
      if (event.kind === KIND_DELETION && api && event.pubkey !== api.pubkey) return moderate(api, event)
      return undefined
    },
  }
}
