import type { Pool } from './pool.ts'
import { createPool } from './pool.ts'
import { createProfiles } from './profiles.ts'
import type { Profiles } from './profiles.ts'
import { createRouter } from './router.ts'
import type { HistoryLike, Router } from './router.ts'
import { createSession } from './session.ts'
import type { Nip07, Session } from './session.ts'
import { createSettings, getDefaultRelay } from './settings.ts'
import type { KeyValueStorage, Settings } from './settings.ts'
import { createStreams } from './streams.ts'
import type { Streams } from './streams.ts'

/** The models created once at start-up and handed to components through context. */
export interface AppState {
  settings: Settings
  pool: Pool
  session: Session
  profiles: Profiles
  router: Router
  streams: Streams
}

export interface AppEnvironment {
  storage: KeyValueStorage
  location: { protocol: string; host: string; pathname: string }
  history?: HistoryLike
  nostr?: () => Nip07 | undefined
  WebSocket?: typeof WebSocket
}

export function createAppState(env: AppEnvironment): AppState {
  const settings = createSettings(env.storage, getDefaultRelay(env.location))
  const relays = (): string[] => settings.relays.value
  const pool = createPool({ relays, ...(env.WebSocket ? { WebSocket: env.WebSocket } : {}) })
  return {
    settings,
    pool,
    session: createSession({ storage: env.storage, ...(env.nostr ? { nostr: env.nostr } : {}) }),
    profiles: createProfiles(pool),
    router: createRouter(env.location.pathname, env.history),
    streams: createStreams(pool, { relays }),
  }
}
