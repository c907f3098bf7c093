import { formatCoordinate, getCoordinate, getEventCoordinate } from '../protocol/coordinate.ts'
import { compareEvents, getEffectiveLimit, isFilterEmptyResult, matchFilter } from '../protocol/filter.ts'
import { verifyHostProof } from '../protocol/host-proof.ts'
import { KIND_LIVE_EVENT, KIND_SERVICE_METRICS } from '../protocol/kinds.ts'
import { getServiceMetrics } from '../protocol/metrics.ts'
import { isLiveNow, validateLiveEvent } from '../protocol/nip53.ts'
import { invalid } from '../protocol/reasons.ts'
import type { Rejection } from '../protocol/reasons.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'
import { createChatRulesExtension } from './chat-rules.ts'
import type { Config } from './config.ts'
import type { RelayApi, RelayExtension } from './hooks.ts'
import { createPresenceExtension } from './presence.ts'

/**
 * Live now: a 30311 answers a `#status: live` query only while it is fresh, i.e. updated by its
 * author within `freshnessSeconds`, or backed by a service's 31337 `live` within
 * `serviceLiveWindowSeconds`. The backing is an in-memory map (coordinate → service → when),
 * rebuilt from the store at start. Also refuses malformed 30311s and host proofs that fail.
 */
export interface LiveNow {
  readonly extension: RelayExtension
  /** Whether a 30311 is live at `now` (unix seconds). */
  isLive(event: NostrEvent, now: number): boolean
  /** Coordinates some service has called live within the window. */
  getBackedCoordinates(now: number): string[]
}

export type LiveNowSettings = Pick<Config, 'freshnessSeconds' | 'serviceLiveWindowSeconds'>

/** The live-stream extensions in the order they must run: live-now, viewer counts, chat rules. */
export function createLiveExtensions(config: Config): RelayExtension[] {
  const live = createLiveNow(config)
  return [live.extension, createPresenceExtension(config, live), createChatRulesExtension(config)]
}

/** A filter that asks for live 30311s (other filters are never touched). */
export function isLiveQuery(f: Filter): boolean {
  return f['#status']?.includes('live') === true && (f.kinds === undefined || f.kinds.includes(KIND_LIVE_EVENT))
}

/** A 30311's own refusals (nip53.ts), then every `p` tag carrying a proof must verify. */
export function checkLiveEvent(event: NostrEvent): Rejection | undefined {
  if (event.kind !== KIND_LIVE_EVENT) return undefined
  const reason = validateLiveEvent(event)
  if (reason) return reason
  const coordinate = getEventCoordinate(event)
  for (const t of event.tags) {
    // An empty 5th value is no proof, as getLiveEvent reads it.
    if (t[0] !== 'p' || !t[4] || !coordinate) continue
    if (!verifyHostProof(coordinate, t[1], t[4])) return invalid(`host proof for ${t[1]} does not verify`)
  }
  return undefined
}

export function createLiveNow(settings: LiveNowSettings): LiveNow {
  const freshness = settings.freshnessSeconds
  const window = settings.serviceLiveWindowSeconds
  /** coordinate → service pubkey → when it last said `live` (created_at, never later than arrival). */
  const backing = new Map<string, Map<string, number>>()
  let api: RelayApi | undefined

  function record(event: NostrEvent, now: number): void {
    const metrics = getServiceMetrics(event)
    if (!metrics) return
    // Our own 31337 follows liveness (backing it would keep a stream live forever), and the
    // stream's author is a user, not a service.
    if (event.pubkey === api?.pubkey || event.pubkey === metrics.coordinate.pubkey) return
    const coord = formatCoordinate(metrics.coordinate)
    let services = backing.get(coord)
    if (metrics.status === 'ended') {
      services?.delete(event.pubkey)
      if (services?.size === 0) backing.delete(coord)
      return
    }
    if (!services) backing.set(coord, (services = new Map()))
    services.set(event.pubkey, Math.max(services.get(event.pubkey) ?? 0, Math.min(event.created_at, now)))
  }

  /** Newest backing within the window; forgets older ones on the way. */
  function getServiceLiveAt(coord: string, now: number): number | undefined {
    const services = backing.get(coord)
    if (!services) return undefined
    let latest: number | undefined
    for (const [pubkey, at] of services) {
      if (now - at > window) services.delete(pubkey)
      else if (latest === undefined || at > latest) latest = at
    }
    if (services.size === 0) backing.delete(coord)
    return latest
  }

  function isLive(event: NostrEvent, now: number): boolean {
    const c = getEventCoordinate(event)
    const lastServiceLiveAt = c && c.kind === KIND_LIVE_EVENT ? getServiceLiveAt(formatCoordinate(c), now) : undefined
    return isLiveNow(event, { now, freshnessWindow: freshness, serviceWindow: window, lastServiceLiveAt })
  }

  function getBackedCoordinates(now: number): string[] {
    return [...backing.keys()].filter((coord) => getServiceLiveAt(coord, now) !== undefined)
  }

  /** One REQ's stored answer when some filter asks for live 30311s; the others as the store gives them. */
  async function answer(self: RelayApi, filters: Filter[]): Promise<NostrEvent[]> {
    const now = self.now()
    const plain: Filter[] = []
    const lists: Promise<NostrEvent[]>[] = []
    for (const f of filters) {
      const limit = getEffectiveLimit(f, self.config.limits)
      if (isFilterEmptyResult(f) || limit <= 0) continue
      if (isLiveQuery(f)) lists.push(answerLive(self, { ...f, limit }, limit, now))
      else plain.push({ ...f, limit })
    }
    if (plain.length > 0) lists.push(self.store.query(plain))
    return union(await Promise.all(lists))
  }

  /**
   * Exact, without scanning stale streams: other kinds and other statuses as asked; live 30311s
   * from the freshness window (an index range), plus the few coordinates a service backs.
   */
  async function answerLive(self: RelayApi, f: Filter, limit: number, now: number): Promise<NostrEvent[]> {
    const store = self.store
    const keep = (e: NostrEvent): boolean => e.kind !== KIND_LIVE_EVENT || isLive(e, now)
    if (f.kinds === undefined) return page(self, f, limit, keep)
    const lists: Promise<NostrEvent[]>[] = []
    const otherKinds = f.kinds.filter((k) => k !== KIND_LIVE_EVENT)
    if (otherKinds.length > 0) lists.push(store.query([{ ...f, kinds: otherKinds }]))
    const otherStatuses = (f['#status'] ?? []).filter((s) => s !== 'live')
    if (otherStatuses.length > 0) lists.push(store.query([{ ...f, kinds: [KIND_LIVE_EVENT], '#status': otherStatuses }]))
    const live: Filter = { ...f, kinds: [KIND_LIVE_EVENT], '#status': ['live'] }
    lists.push(store.query([{ ...live, since: Math.max(f.since ?? 0, now - freshness) }]).then((es) => es.filter(keep)))
    const backed = getBackedCoordinates(now)
    if (backed.length > 0) lists.push(queryBacked(self, live, backed).then((es) => es.filter((e) => matchFilter(live, e) && keep(e))))
    return union(await Promise.all(lists)).slice(0, limit)
  }

  /**
   * NIP-45 with the same rule as REQ: the live 30311s counted one by one (there are few fresh
   * ones), every other filter by the store; an event matched by both is counted once.
   */
  async function countLive(self: RelayApi, filters: Filter[]): Promise<number> {
    const now = self.now()
    const plain = filters.filter((f) => !isLiveQuery(f) && !isFilterEmptyResult(f))
    const live = filters.filter((f) => isLiveQuery(f) && !isFilterEmptyResult(f))
    const unlimited = (f: Filter): Filter => {
      const { limit: _limit, ...rest } = f
      return rest
    }
    const found = union(await Promise.all(live.map((f) => answerLive(self, unlimited(f), Number.MAX_SAFE_INTEGER, now))))
    const extra = found.filter((e) => !plain.some((f) => matchFilter(f, e))).length
    return extra + (plain.length > 0 ? await self.store.count(plain) : 0)
  }

  async function queryBacked(self: RelayApi, live: Filter, coords: string[]): Promise<NostrEvent[]> {
    const wanted = new Set(coords)
    const parsed = coords.map(getCoordinate).filter((c) => c !== undefined)
    const authors = [...new Set(parsed.map((c) => c.pubkey))].filter((p) => !live.authors || live.authors.includes(p))
    if (authors.length === 0) return []
    // One query for the cross product of authors and identifiers, then only the wanted pairs.
    const found = await self.store.query([{ kinds: [KIND_LIVE_EVENT], authors, '#d': [...new Set(parsed.map((c) => c.identifier))] }])
    return found.filter((e) => {
      const c = getEventCoordinate(e)
      return c !== undefined && wanted.has(formatCoordinate(c))
    })
  }

  return {
    isLive,
    getBackedCoordinates,
    extension: {
      name: 'live-now',
      supportedNips: [53],
      info: {
        live_now: {
          description:
            '{"kinds":[30311],"#status":["live"]} returns only streams live now: updated by their author within freshness_seconds, or backed by a service 31337 saying live within service_window_seconds',
          freshness_seconds: freshness,
          service_window_seconds: window,
        },
        host_proofs: { description: 'a 30311 p tag carrying a NIP-53 proof is refused unless the proof verifies' },
      },
      policies: [checkLiveEvent],
      async start(relayApi) {
        api = relayApi
        const now = relayApi.now()
        const recent = await relayApi.store.query([{ kinds: [KIND_SERVICE_METRICS], '#status': ['live'], since: now - window }])
        for (const e of recent) record(e, now)
      },
      afterCommit(event) {
        if (event.kind === KIND_SERVICE_METRICS && api) record(event, api.now())
      },
      answerCount(req) {
        if (!api || !req.filters.some(isLiveQuery)) return undefined
        return countLive(api, req.filters)
      },
      answerQuery(req) {
        if (!api || !req.filters.some(isLiveQuery)) return undefined
        return answer(api, req.filters).then((events) => events.map((e) => JSON.stringify(e)))
      },
    },
  }
}

/**
 * Pages newest-first through a filter until `limit` events pass `keep` (for the rare live query
 * without `kinds`, which no index answers anyway). Pages double, so the cost stays a scan.
 */
async function page(self: RelayApi, f: Filter, limit: number, keep: (e: NostrEvent) => boolean): Promise<NostrEvent[]> {
  const out: NostrEvent[] = []
  let until = f.until
  let seen = new Set<string>() // events at `until` already read
  let size = limit
  for (;;) {
    const want = size + seen.size
    const batch = await self.store.query([{ ...f, until, limit: want }])
    for (const e of batch) if (!seen.has(e.id) && keep(e)) out.push(e)
    if (out.length >= limit || batch.length < want) return out.slice(0, limit)
    const last = batch[batch.length - 1].created_at
    if (last !== until) seen = new Set()
    for (const e of batch) if (e.created_at === last) seen.add(e.id)
    until = last
    size *= 2
  }
}

function union(lists: NostrEvent[][]): NostrEvent[] {
  const byId = new Map<string, NostrEvent>()
  for (const list of lists) for (const e of list) byId.set(e.id, e)
  return [...byId.values()].sort(compareEvents)
}
