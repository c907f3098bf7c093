import { formatCoordinate, getCoordinate, getEventCoordinate } from '../protocol/coordinate.ts'
import type { Coordinate } from '../protocol/coordinate.ts'
import { KIND_DELETION, KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_PRESENCE, KIND_SERVICE_METRICS } from '../protocol/kinds.ts'
import { buildServiceMetrics, getServiceMetrics } from '../protocol/metrics.ts'
import type { RelayFigures, ServiceStatus } from '../protocol/metrics.ts'
import { getChatTarget, getLiveEvent } from '../protocol/nip53.ts'
import { getPresenceTarget } from '../protocol/presence.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'
import type { ClientInfo } from './client.ts'
import type { Config } from './config.ts'
import type { QueryRequest, RelayApi, RelayExtension } from './hooks.ts'
import type { LiveNow } from './live.ts'
import { createLookupCache } from './lookup-cache.ts'

/**
 * Viewer counts. A viewer of a stream is a connection (or its NIP-42 pubkey) holding a
 * subscription to the stream's chat (`kinds` with 1311, `#a` with the coordinate), or a pubkey
 * whose 10312 presence names the stream and is younger than `presenceWindowSeconds`. For each
 * watched stream that is live now, the relay publishes its own 31337 (service=relay) with viewers
 * now, distinct viewers, peak and chat messages: on a tick, only when a figure changed (or half
 * the metrics' lifetime passed), and once `ended` when the stream stops being live.
 */

export type PresenceSettings = Pick<Config, 'presenceWindowSeconds' | 'viewerMetricsIntervalSeconds'>

/** NIP-40 lifetime of the relay's 31337; refreshed at half of it while a stream stays live. */
export const METRICS_TTL_SECONDS = 600
/** Streams one subscription can count as watching: a chat pane watches one, a few at most. */
const MAX_STREAMS_PER_SUBSCRIPTION = 10

interface StreamState {
  coordinate: Coordinate
  /** Viewer keys seen since the relay saw the stream live, plus those of before a restart. */
  seen: Set<string>
  seenBefore: number
  peak: number
  chatMessages: number
  /** What the last 31337 said, to publish only changes. */
  said: string
  saidAt: number
}

/** The targeted streams' coordinates, as written in `#a` (which is how clients will read them). */
export function getWatchedCoordinates(filters: Filter[]): string[] {
  const coords = new Set<string>()
  for (const f of filters) {
    if (!f.kinds?.includes(KIND_LIVE_CHAT)) continue
    for (const a of f['#a'] ?? []) {
      if (coords.size >= MAX_STREAMS_PER_SUBSCRIPTION) break
      if (getCoordinate(a)?.kind === KIND_LIVE_EVENT) coords.add(a)
    }
  }
  return [...coords]
}

const viewerKey = (client: ClientInfo): string => {
  for (const pubkey of client.authed) return `p:${pubkey}`
  return `c:${client.id}`
}

export function createPresenceExtension(settings: PresenceSettings, liveNow: LiveNow): RelayExtension {
  const window = settings.presenceWindowSeconds
  let api: RelayApi | undefined
  /** coordinate → viewer key → how many sources (subscriptions, a presence) make it a viewer */
  const viewers = new Map<string, Map<string, number>>()
  const subs = new Map<QueryRequest, { key: string; coords: string[] }>()
  const presences = new Map<string, { coord: string; at: number }>()
  const streams = new Map<string, StreamState>()
  /** The latest 30311 of each watched coordinate (null: none stored). */
  const events = createLookupCache<NostrEvent | null>({
    max: 100_000,
    eventIdOf: (e) => e?.id,
    async load(coord) {
      const c = getCoordinate(coord) as Coordinate
      const [e] = await (api as RelayApi).store.query([{ kinds: [KIND_LIVE_EVENT], authors: [c.pubkey], '#d': [c.identifier], limit: 1 }])
      return e ?? null
    },
  })
  let timer: NodeJS.Timeout | undefined
  let ticking: Promise<void> | undefined

  function addViewer(coord: string, key: string): void {
    let keys = viewers.get(coord)
    if (!keys) viewers.set(coord, (keys = new Map()))
    const n = keys.get(key) ?? 0
    keys.set(key, n + 1)
    const state = streams.get(coord)
    if (n === 0 && state) {
      state.seen.add(key)
      state.peak = Math.max(state.peak, keys.size)
    }
  }

  function removeViewer(coord: string, key: string): void {
    const keys = viewers.get(coord)
    const n = keys?.get(key)
    if (!keys || n === undefined) return
    if (n > 1) keys.set(key, n - 1)
    else if (keys.delete(key) && keys.size === 0) viewers.delete(coord)
  }

  function setPresence(pubkey: string, coord: string | undefined, at: number): void {
    const previous = presences.get(pubkey)
    if (previous) {
      presences.delete(pubkey)
      removeViewer(previous.coord, `p:${pubkey}`)
    }
    if (coord === undefined) return
    presences.set(pubkey, { coord, at })
    addViewer(coord, `p:${pubkey}`)
  }

  function onPresence(e: NostrEvent, now: number): void {
    const at = Math.min(e.created_at, now)
    const target = getPresenceTarget(e)
    setPresence(e.pubkey, target && now - at <= window ? formatCoordinate(target) : undefined, at)
  }

  function begin(self: RelayApi, coord: string, event: NostrEvent): Promise<void> {
    const keys = viewers.get(coord)
    const state: StreamState = {
      coordinate: getCoordinate(coord) as Coordinate,
      seen: new Set(keys?.keys()),
      seenBefore: 0,
      peak: keys?.size ?? 0,
      chatMessages: 0,
      said: '',
      saidAt: 0,
    }
    streams.set(coord, state)
    const starts = getLiveEvent(event)?.starts
    const chat: Filter = { kinds: [KIND_LIVE_CHAT], '#a': [coord], ...(starts !== undefined ? { since: starts } : {}) }
    // Between write batches, so commits counted by afterCommit are exactly those after the count.
    return self.exclusive(async () => {
      state.chatMessages = await self.store.count([chat])
    })
  }

  async function say(self: RelayApi, coord: string, state: StreamState, status: ServiceStatus, now: number): Promise<void> {
    const figures: RelayFigures = {
      viewers: viewers.get(coord)?.size ?? 0,
      total: state.seenBefore + state.seen.size,
      peak: state.peak,
      chatMessages: state.chatMessages,
    }
    const said = JSON.stringify([status, figures])
    if (said === state.said && now - state.saidAt < METRICS_TTL_SECONDS / 2) return
    // Strictly increasing, or a same-second replacement could keep the older one (lowest id wins).
    const created_at = Math.max(now, state.saidAt + 1)
    state.said = said
    state.saidAt = created_at
    const template = buildServiceMetrics(
      { coordinate: state.coordinate, service: 'relay', status, expiration: created_at + METRICS_TTL_SECONDS, figures },
      created_at,
    )
    const result = await self.publish(await self.sign(template))
    if (!result.ok) self.log.warn(`presence: metrics for ${coord} refused: ${result.reason}`)
  }

  async function tick(self: RelayApi): Promise<void> {
    const now = self.now()
    for (const [pubkey, p] of presences) if (now - p.at > window) setPresence(pubkey, undefined, now)
    const watched = new Set([...viewers.keys(), ...streams.keys()])
    for (const coord of watched) {
      const event = events.get(coord)
      if (event instanceof Promise) {
        event.catch((err: unknown) => self.log.error(`presence: loading ${coord} failed`, err))
        continue // counted from the next tick on
      }
      const live = event !== null && liveNow.isLive(event, now)
      const state = streams.get(coord)
      if (live && !state) await begin(self, coord, event)
      if (live) await say(self, coord, streams.get(coord) as StreamState, 'live', now)
      else if (state) {
        streams.delete(coord)
        await say(self, coord, state, 'ended', now)
      }
    }
    for (const coord of [...viewers.keys(), ...streams.keys()]) watched.delete(coord)
    for (const coord of watched) events.delete(coord)
  }

  /** After a restart: carry on the streams our own live metrics were about (and end the stale ones). */
  async function adopt(self: RelayApi): Promise<void> {
    const ours = await self.store.query([{ kinds: [KIND_SERVICE_METRICS], authors: [self.pubkey], '#status': ['live'] }])
    for (const e of ours) {
      const m = getServiceMetrics(e)
      if (m?.service !== 'relay') continue
      const coord = formatCoordinate(m.coordinate)
      const state: StreamState = {
        coordinate: m.coordinate,
        seen: new Set(),
        seenBefore: m.figures.total,
        peak: m.figures.peak,
        chatMessages: m.figures.chatMessages,
        said: JSON.stringify(['live', m.figures]),
        saidAt: e.created_at,
      }
      streams.set(coord, state)
    }
  }

  return {
    name: 'presence',
    info: {
      viewer_counts: {
        description:
          'viewers are connections subscribed to a stream\'s chat (kinds 1311 with #a) and pubkeys whose 10312 presence names it; the relay publishes them as kind 31337 (service=relay) signed by NIP-11 "self"',
        interval_seconds: settings.viewerMetricsIntervalSeconds,
        presence_window_seconds: window,
      },
    },
    async start(self) {
      api = self
      const now = self.now()
      const recent = await self.store.query([{ kinds: [KIND_PRESENCE], since: now - window }])
      for (const e of recent) onPresence(e, now)
      await adopt(self)
      timer = setInterval(() => {
        ticking ??= tick(self)
          .catch((err: unknown) => self.log.error('presence: tick failed', err))
          .finally(() => (ticking = undefined))
      }, settings.viewerMetricsIntervalSeconds * 1000)
      timer.unref()
    },
    async stop() {
      clearInterval(timer)
      timer = undefined
      await ticking
    },
    subscriptionOpened(sub) {
      const coords = getWatchedCoordinates(sub.filters)
      if (coords.length === 0) return
      const key = viewerKey(sub.client)
      subs.set(sub, { key, coords })
      for (const coord of coords) addViewer(coord, key)
    },
    subscriptionClosed(sub) {
      const watching = subs.get(sub)
      if (!watching) return
      subs.delete(sub)
      for (const coord of watching.coords) removeViewer(coord, watching.key)
    },
    afterCommit(event, result) {
      if (!api) return
      if (event.kind === KIND_PRESENCE) onPresence(event, api.now())
      else if (event.kind === KIND_LIVE_EVENT) {
        const c = getEventCoordinate(event)
        if (c) events.refresh(formatCoordinate(c), event)
      } else if (event.kind === KIND_LIVE_CHAT) {
        const target = getChatTarget(event)
        const state = target && streams.get(formatCoordinate(target.coordinate))
        if (state) state.chatMessages++
      } else if (event.kind === KIND_DELETION) {
        for (const id of result.removed) events.deleteByEventId(id)
      }
    },
  }
}
