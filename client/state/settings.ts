import { signal } from '@preact/signals'
import type { Signal } from '@preact/signals'

/** User settings kept in the browser: the relay list (defaults to the relay that served the page). */

/** The subset of Web Storage we use, so tests can pass a Map-backed double. */
export interface KeyValueStorage {
  getItem(key: string): string | null
  setItem(key: string, value: string): void
  removeItem(key: string): void
}

export interface Settings {
  relays: Signal<string[]>
  /** Sets the relay list; returns a plain-words problem, or undefined when saved. */
  setRelays(list: string[]): string | undefined
  reset(): void
}

const RELAYS_KEY = 'relaycast.relays'

/** ws(s)://<host> of the page: the relay that served this app. */
export function getDefaultRelay(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`
}

export function isRelayUrl(s: string): boolean {
  if (!URL.canParse(s)) return false
  const u = new URL(s)
  return (u.protocol === 'ws:' || u.protocol === 'wss:') && u.host !== ''
}

/** Trailing slashes differ between clients; one spelling keeps pool keys and tags stable. */
export function normalizeRelayUrl(s: string): string {
  const t = s.trim()
  return t.endsWith('/') && new URL(t).pathname === '/' ? t.slice(0, -1) : t
}

export function createSettings(storage: KeyValueStorage, defaultRelay: string): Settings {
  const relays = signal<string[]>(load(storage) ?? [defaultRelay])
  return {
    relays,
    setRelays(list) {
      const cleaned = [...new Set(list.map((s) => s.trim()).filter((s) => s !== ''))]
      const bad = cleaned.find((s) => !isRelayUrl(s))
      if (bad !== undefined) return `"${bad}" is not a relay address (it should start with ws:// or wss://)`
      if (cleaned.length === 0) return 'Add at least one relay'
      const normalized = cleaned.map(normalizeRelayUrl)
      storage.setItem(RELAYS_KEY, JSON.stringify(normalized))
      relays.value = normalized
      return undefined
    },
    reset() {
      storage.removeItem(RELAYS_KEY)
      relays.value = [defaultRelay]
    },
  }
}

function load(storage: KeyValueStorage): string[] | undefined {
  const text = storage.getItem(RELAYS_KEY)
  if (text === null) return undefined
  try {
    const parsed: unknown = JSON.parse(text)
    if (Array.isArray(parsed) && parsed.length > 0 && parsed.every((s) => typeof s === 'string' && isRelayUrl(s))) return parsed as string[]
  } catch (err) {
    console.warn('ignoring unreadable relay settings', err)
  }
  return undefined
}

/** A Map-backed KeyValueStorage for tests and for browsers with storage disabled. */
export function createMemoryStorage(): KeyValueStorage {
  const map = new Map<string, string>()
  return {
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  }
}
