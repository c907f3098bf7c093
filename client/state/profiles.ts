import { signal } from '@preact/signals'
import type { Signal } from '@preact/signals'
import { KIND_METADATA } from '../../protocol/kinds.ts'
import type { EventTemplate, NostrEvent } from '../../protocol/types.ts'
import type { Pool } from './pool.ts'

/** Kind 0 names and pictures, fetched in small batches as components ask for them. */
export interface Profile {
  name?: string
  picture?: string
  about?: string
  nip05?: string
}

export interface Profiles {
  /** The profile signal for a pubkey (empty until loaded); asks the relays the first time. */
  get(pubkey: string): Signal<Profile>
  /** Applies a kind 0 (newest wins). Exposed for tests and for events other models already have. */
  apply(event: NostrEvent): void
}

export function getProfile(e: NostrEvent): Profile | undefined {
  if (e.kind !== KIND_METADATA) return undefined
  try {
    const c = JSON.parse(e.content) as Record<string, unknown>
    const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, 200) : undefined)
    const p: Profile = {}
    const name = text(c.display_name) ?? text(c.name)
    if (name) p.name = name
    const picture = text(c.picture)
    if (picture && /^https?:\/\//.test(picture)) p.picture = picture
    const about = text(c.about)
    if (about) p.about = about
    const nip05 = text(c.nip05)
    if (nip05) p.nip05 = nip05
    return p
  } catch {
    return undefined // a reader never throws: unreadable metadata is just no profile
  }
}

/** A short stand-in for a pubkey with no name: first and last hex digits. */
export function shortKey(pubkey: string): string {
  return `${pubkey.slice(0, 8)}…${pubkey.slice(-4)}`
}

export function createProfiles(pool: Pool, batchMs = 50): Profiles {
  const profiles = new Map<string, Signal<Profile>>()
  const seenAt = new Map<string, number>()
  let pending = new Set<string>()
  let timer: ReturnType<typeof setTimeout> | undefined

  const apply = (e: NostrEvent): void => {
    const p = getProfile(e)
    if (!p || (seenAt.get(e.pubkey) ?? -1) >= e.created_at) return
    seenAt.set(e.pubkey, e.created_at)
    let s = profiles.get(e.pubkey)
    if (!s) profiles.set(e.pubkey, (s = signal<Profile>({})))
    s.value = p
  }

  const flush = (): void => {
    timer = undefined
    const authors = [...pending]
    pending = new Set()
    if (authors.length > 0) void pool.query([{ kinds: [KIND_METADATA], authors }], { maxWaitMs: 4000 }).then((events) => events.forEach(apply))
  }

  return {
    get(pubkey) {
      let s = profiles.get(pubkey)
      if (!s) {
        profiles.set(pubkey, (s = signal<Profile>({})))
        pending.add(pubkey)
        timer ??= setTimeout(flush, batchMs)
      }
      return s
    },
    apply,
  }
}

/**
 * A kind 0 that changes name and picture and keeps every other field of the current one
 * (other clients write lud16, banner, …). Empty values remove the field.
 */
export function buildProfileUpdate(current: NostrEvent | undefined, changes: { name: string; picture: string }, created_at: number): EventTemplate {
  let content: Record<string, unknown> = {}
  if (current) {
    try {
      const parsed: unknown = JSON.parse(current.content)
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) content = parsed as Record<string, unknown>
    } catch (err) {
      console.warn('current profile is not JSON; starting afresh', err)
    }
  }
  const next: Record<string, unknown> = { ...content }
  for (const [key, value] of [['name', changes.name.trim()], ['display_name', changes.name.trim()], ['picture', changes.picture.trim()]] as const) {
    if (value === '') delete next[key]
    else next[key] = value
  }
  return { kind: KIND_METADATA, created_at: Math.max(created_at, (current?.created_at ?? 0) + 1), tags: current?.tags.map((t) => [...t]) ?? [], content: JSON.stringify(next) }
}
