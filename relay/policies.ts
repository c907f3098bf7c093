import { isExpired } from '../protocol/expiration.ts'
import { KIND_AUTH } from '../protocol/kinds.ts'
import { isWithinByteLimit } from '../protocol/limits.ts'
import type { Limits } from '../protocol/limits.ts'
import { authRequired, blocked, invalid, rateLimited, restricted } from '../protocol/reasons.ts'
import type { Rejection } from '../protocol/reasons.ts'
import type { Filter, NostrEvent } from '../protocol/types.ts'
import type { ClientInfo } from './client.ts'
import { createRateLimiter } from './rate-limit.ts'

/** What a write policy may look at besides the event. */
export interface PolicyContext {
  readonly client: ClientInfo
  /** Unix seconds, read once per event. */
  readonly now: number
  /** Read-only store lookups, for policies that need context (a host's mute list, a stream's 30311). */
  readonly query: (filters: Filter[]) => Promise<NostrEvent[]>
}

/**
 * A write policy (khatru's RejectEvent): a rejection, or undefined to let the event through.
 * It may be async (a store lookup); the relay awaits only policies that return a promise.
 */
export type Policy = (event: NostrEvent, ctx: PolicyContext) => Rejection | undefined | Promise<Rejection | undefined>

/** Runs policies in order; the first rejection wins. Synchronous while every policy is. */
export function runPolicies(
  policies: readonly Policy[],
  event: NostrEvent,
  ctx: PolicyContext,
  from = 0,
): Rejection | undefined | Promise<Rejection | undefined> {
  for (let i = from; i < policies.length; i++) {
    const result = policies[i](event, ctx)
    if (result instanceof Promise) return result.then((r) => r ?? runPolicies(policies, event, ctx, i + 1))
    if (result) return result
  }
  return undefined
}

export const isProtected = (event: NostrEvent): boolean => event.tags.some((t) => t.length === 1 && t[0] === '-')

export function capsPolicy(limits: Limits): Policy {
  return (event) => {
    if (event.tags.length > limits.maxEventTags) return invalid(`too many tags (${event.tags.length} > ${limits.maxEventTags})`)
    if (!isWithinByteLimit(event.content, limits.maxContentBytes)) return invalid(`content is larger than ${limits.maxContentBytes} bytes`)
    return undefined
  }
}

/** NIP-42: kind 22242 proves a connection's identity; it is never published. */
export const noAuthEventPolicy: Policy = (event) =>
  event.kind === KIND_AUTH ? invalid('kind 22242 is sent in an AUTH message, not published') : undefined

/** NIP-40: an event that has already expired is refused on arrival. */
export const notExpiredPolicy: Policy = (event, { now }) => (isExpired(event, now) ? invalid('event has expired') : undefined)

export function createdAtPolicy(maxFutureSeconds: number, maxPastSeconds: number): Policy {
  return (event, { now }) => {
    if (event.created_at > now + maxFutureSeconds) return invalid(`created_at is more than ${maxFutureSeconds} seconds in the future`)
    if (maxPastSeconds > 0 && event.created_at < now - maxPastSeconds) {
      return invalid(`created_at is more than ${maxPastSeconds} seconds in the past`)
    }
    return undefined
  }
}

export function allowedKindsPolicy(kinds: readonly number[]): Policy {
  const allowed = new Set(kinds)
  return (event) => (allowed.has(event.kind) ? undefined : blocked(`kind ${event.kind} is not accepted by this relay`))
}

export const authRequiredPolicy: Policy = (_event, { client }) =>
  client.authed.size === 0 ? authRequired('this relay accepts events only from authenticated clients (NIP-42)') : undefined

/** NIP-70: an event tagged `["-"]` may only be published by its author, proven with AUTH. */
export const protectedEventPolicy: Policy = (event, { client }) => {
  if (!isProtected(event) || client.authed.has(event.pubkey)) return undefined
  const text = 'this event is protected (NIP-70) and may only be published by its author'
  return client.authed.size === 0 ? authRequired(text) : restricted(text)
}

export function ipRatePolicy(perSecond: number, burst: number, nowMs?: () => number): Policy {
  const limiter = createRateLimiter(perSecond, burst, nowMs)
  // The relay's own local connections (sync) bring in what other relays already accepted.
  return (_event, { client }) =>
    client.local || limiter.take(client.ip) ? undefined : rateLimited(`slow down: at most ${perSecond} events per second from one address`)
}

export function pubkeyRatePolicy(perSecond: number, burst: number, nowMs?: () => number): Policy {
  const limiter = createRateLimiter(perSecond, burst, nowMs)
  return (event, { client }) =>
    client.local || limiter.take(event.pubkey) ? undefined : rateLimited(`slow down: at most ${perSecond} events per second from one pubkey`)
}

export interface PolicySettings {
  limits: Limits
  createdAtMaxFutureSeconds: number
  createdAtMaxPastSeconds: number
  allowedKinds: number[] | undefined
  authRequiredForWrites: boolean
  ipEventsPerSecond: number
  ipEventBurst: number
  pubkeyEventsPerSecond: number
  pubkeyEventBurst: number
}

/**
 * The built-in policies, cheapest and most fundamental first; rate limits last so that events
 * refused for other reasons spend no tokens.
 */
export function createDefaultPolicies(s: PolicySettings, nowMs?: () => number): Policy[] {
  return [
    capsPolicy(s.limits),
    noAuthEventPolicy,
    notExpiredPolicy,
    createdAtPolicy(s.createdAtMaxFutureSeconds, s.createdAtMaxPastSeconds),
    ...(s.allowedKinds ? [allowedKindsPolicy(s.allowedKinds)] : []),
    ...(s.authRequiredForWrites ? [authRequiredPolicy] : []),
    protectedEventPolicy,
    ipRatePolicy(s.ipEventsPerSecond, s.ipEventBurst, nowMs),
    pubkeyRatePolicy(s.pubkeyEventsPerSecond, s.pubkeyEventBurst, nowMs),
  ]
}
