import { bytesToHex } from '@noble/hashes/utils.js'
import { checkEvent, validateEventShape } from '../protocol/event.ts'
import { KIND_AUTH } from '../protocol/kinds.ts'
import { invalid } from '../protocol/reasons.ts'
import type { Rejection } from '../protocol/reasons.ts'
import type { NostrEvent, SignatureCheck } from '../protocol/types.ts'

/** NIP-42: the challenge sent on connect, and the check of the kind-22242 answer. */

export function createChallenge(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(16)))
}

export interface AuthCheck {
  challenge: string
  /** This relay's public URL when configured; otherwise `host` (the Host header) must match. */
  publicUrl: string | undefined
  host: string
  now: number
  windowSeconds: number
  check: SignatureCheck
}

/**
 * Why an AUTH event does not authenticate this connection, or undefined if it does.
 * Cheap checks first; the signature last.
 */
export function validateAuthEvent(x: unknown, a: AuthCheck): Rejection | undefined {
  const shape = validateEventShape(x)
  if (shape) return shape
  const event = x as NostrEvent
  if (event.kind !== KIND_AUTH) return invalid(`AUTH event must be kind ${KIND_AUTH}`)
  if (Math.abs(event.created_at - a.now) > a.windowSeconds) {
    return invalid(`AUTH event created_at must be within ${a.windowSeconds} seconds of now`)
  }
  if (getTag(event, 'challenge') !== a.challenge) return invalid('AUTH challenge does not match the one this connection was given')
  const relay = getTag(event, 'relay')
  if (relay === undefined || !isSameRelay(relay, a.publicUrl, a.host)) {
    return invalid(`AUTH relay tag must name this relay (${a.publicUrl ?? a.host})`)
  }
  return checkEvent(event, a.check)
}

const getTag = (event: NostrEvent, name: string): string | undefined => event.tags.find((t) => t[0] === name)?.[1]

/**
 * Whether a relay URL from a tag names this relay: same host and port, and the same path when a
 * public URL is configured. ws and wss both pass, since TLS often ends at a proxy in front of us.
 */
export function isSameRelay(url: string, publicUrl: string | undefined, host: string): boolean {
  const tag = parseRelayUrl(url)
  if (!tag) return false
  if (publicUrl === undefined) return tag.host === parseRelayUrl(`ws://${host}`)?.host
  const ours = parseRelayUrl(publicUrl)
  return ours !== undefined && tag.host === ours.host && tag.path === ours.path
}

function parseRelayUrl(url: string): { host: string; path: string } | undefined {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return undefined // not a URL: the caller refuses it with a reason
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return undefined
  return { host: u.host, path: u.pathname.replace(/\/+$/, '') }
}
