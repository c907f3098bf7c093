/**
 * Test support for the live-stream extensions' integration tests (imported by *.test.ts only):
 * real nostr-tools clients, stream templates, and waits on events instead of sleeps.
 */
import type { Event as ToolsEvent } from 'nostr-tools/core'
import { Relay, useWebSocketImplementation } from 'nostr-tools/relay'
import WebSocket from 'ws'
import { formatCoordinate } from '../protocol/coordinate.ts'
import { KIND_LIVE_CHAT, KIND_LIVE_EVENT } from '../protocol/kinds.ts'
import { buildLiveEvent } from '../protocol/nip53.ts'
import type { LiveEventInput } from '../protocol/nip53.ts'
import type { EventTemplate, Filter, NostrEvent } from '../protocol/types.ts'

useWebSocketImplementation(WebSocket)

export { Relay }

/** An OK as the client saw it: nostr-tools resolves with the reason on true, throws it on false. */
export async function send(relay: Relay, event: NostrEvent): Promise<{ ok: boolean; reason: string }> {
  try {
    return { ok: true, reason: await relay.publish(event as unknown as ToolsEvent) }
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) }
  }
}

/** Stored events for the filters (until EOSE). */
export function fetchEvents(relay: Relay, filters: Filter[]): Promise<NostrEvent[]> {
  return new Promise((resolve) => {
    const events: NostrEvent[] = []
    const sub = relay.subscribe(filters as never, {
      onevent: (e: ToolsEvent) => void events.push(plain(e)),
      oneose() {
        sub.close()
        resolve(events)
      },
    })
  })
}

export const fetchIds = async (relay: Relay, filters: Filter[]): Promise<string[]> => (await fetchEvents(relay, filters)).map((e) => e.id)

/** A subscription whose events (stored and live) can be awaited by predicate. */
export function watch(relay: Relay, filters: Filter[]) {
  const seen: NostrEvent[] = []
  const waiters: { pred: (e: NostrEvent) => boolean; resolve: (e: NostrEvent) => void }[] = []
  const sub = relay.subscribe(filters as never, {
    onevent(raw: ToolsEvent) {
      const e = plain(raw)
      seen.push(e)
      for (const w of waiters.filter((w) => w.pred(e))) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(e)
      }
    },
  })
  return {
    seen,
    /** The first event so far or from now on that satisfies `pred`. */
    next(pred: (e: NostrEvent) => boolean): Promise<NostrEvent> {
      const found = seen.find(pred)
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ pred, resolve }))
    },
    close: () => sub.close(),
  }
}

/** A live stream template: status live unless given, `t` music, created at `at`. */
export function stream(identifier: string, at: number, input: Partial<LiveEventInput> = {}): EventTemplate {
  return buildLiveEvent(
    { identifier, title: identifier, status: 'live', category: 'music', streaming: `https://cdn.example/${identifier}/master.m3u8`, ...input },
    at,
  )
}

export const coordOf = (pubkey: string, identifier: string): string => formatCoordinate({ kind: KIND_LIVE_EVENT, pubkey, identifier })

export function chat(coord: string, content: string, at: number): EventTemplate {
  return { kind: KIND_LIVE_CHAT, created_at: at, tags: [['a', coord, '', 'root']], content }
}

/** Drops nostr-tools' verified mark, so events compare equal to what was signed. */
function plain(e: ToolsEvent): NostrEvent {
  const { id, pubkey, created_at, kind, tags, content, sig } = e
  return { id, pubkey, created_at, kind, tags, content, sig }
}
