import { computed, signal } from '@preact/signals'
import type { ReadonlySignal, Signal } from '@preact/signals'
import { formatCoordinate } from '../../protocol/coordinate.ts'
import type { Coordinate } from '../../protocol/coordinate.ts'
import { getDeletionTargets } from '../../protocol/deletion.ts'
import { KIND_DELETION, KIND_LIVE_CHAT } from '../../protocol/kinds.ts'
import { buildChatMessage, getChatMessage } from '../../protocol/nip53.ts'
import type { ChatMessage } from '../../protocol/nip53.ts'
import type { EventTemplate, NostrEvent } from '../../protocol/types.ts'
import type { Pool } from './pool.ts'
import { describeRefusal } from './refusal.ts'

/** NIP-25 reaction and NIP-56 report kinds (only the client uses them). */
export const KIND_REACTION = 7
export const KIND_REPORT = 1984
/** Messages kept in memory per stream; older ones scroll out. */
export const MAX_MESSAGES = 300

export interface ChatItem {
  event: NostrEvent
  message: ChatMessage
  /** emoji → pubkeys that reacted with it */
  reactions: Map<string, Set<string>>
  /** Arrival order: breaks ties between messages of the same second the way people saw them. */
  seq: number
}

export interface ChatOptions {
  coordinate: Coordinate
  /** Where this stream's chat lives: its `relays` tag, else ours. */
  relays: () => string[]
  /** Authors whose kind 5 removes chat here (the host and moderators). */
  moderators: () => string[]
  sign: (t: EventTemplate) => Promise<NostrEvent>
  now?: () => number
}

export interface Chat {
  messages: ReadonlySignal<ChatItem[]>
  /** The last refusal or failure, in plain words, for the sender. */
  error: Signal<string | undefined>
  sending: Signal<boolean>
  replyTo: Signal<NostrEvent | undefined>
  quote: Signal<NostrEvent | undefined>
  /** Id from the 30311's `pinned` tag (zap.stream's convention), resolved against loaded chat. */
  pinnedId: Signal<string | undefined>
  pinned: ReadonlySignal<ChatItem | undefined>
  /** The host's `slow_mode` seconds (0: off); the relay may enforce its own pace as well. */
  slowMode: Signal<number>
  apply(event: NostrEvent): void
  send(text: string): Promise<boolean>
  react(target: NostrEvent, emoji: string): Promise<boolean>
  report(target: NostrEvent, type: ReportType, note?: string): Promise<boolean>
  start(): () => void
}

export const REPORT_TYPES = ['spam', 'nudity', 'profanity', 'illegal', 'impersonation', 'other'] as const
export type ReportType = (typeof REPORT_TYPES)[number]

export function createChat(pool: Pool, opts: ChatOptions): Chat {
  const address = formatCoordinate(opts.coordinate)
  const items = new Map<string, ChatItem>()
  /** Reactions that arrived before their message. */
  const early = new Map<string, NostrEvent[]>()
  const removed = new Set<string>()
  let seq = 0
  const version = signal(0)
  const error = signal<string | undefined>(undefined)
  const sending = signal(false)
  const replyTo = signal<NostrEvent | undefined>(undefined)
  const quote = signal<NostrEvent | undefined>(undefined)
  const pinnedId = signal<string | undefined>(undefined)
  const slowMode = signal(0)
  let lastSentAt: number | undefined

  const messages = computed(() => {
    void version.value
    const list = [...items.values()].sort((a, b) => a.event.created_at - b.event.created_at || a.seq - b.seq)
    return list.length > MAX_MESSAGES ? list.slice(-MAX_MESSAGES) : list
  })

  const addReaction = (item: ChatItem, r: NostrEvent): void => {
    const emoji = r.content === '+' || r.content === '' ? '❤️' : r.content.slice(0, 16)
    let set = item.reactions.get(emoji)
    if (!set) item.reactions.set(emoji, (set = new Set()))
    set.add(r.pubkey)
  }

  const apply = (e: NostrEvent): void => {
    if (e.kind === KIND_LIVE_CHAT) {
      const message = getChatMessage(e)
      if (!message || formatCoordinate(message.coordinate) !== address || items.has(e.id) || removed.has(e.id)) return
      const item: ChatItem = { event: e, message, reactions: new Map(), seq: seq++ }
      for (const r of early.get(e.id) ?? []) addReaction(item, r)
      early.delete(e.id)
      items.set(e.id, item)
      version.value++
    } else if (e.kind === KIND_REACTION) {
      const target = [...e.tags].reverse().find((t) => t[0] === 'e')?.[1]
      if (!target) return
      const item = items.get(target)
      if (item) {
        addReaction(item, e)
        version.value++
      } else early.set(target, [...(early.get(target) ?? []), e].slice(-20))
    } else if (e.kind === KIND_DELETION) {
      const mods = opts.moderators()
      let changed = false
      for (const id of getDeletionTargets(e).ids) {
        const item = items.get(id)
        // A host or moderator removes anyone's chat here; anyone may retract their own.
        if (item && (mods.includes(e.pubkey) || item.event.pubkey === e.pubkey)) {
          items.delete(id)
          removed.add(id)
          changed = true
        }
      }
      if (changed) version.value++
    }
  }

  const publish = async (template: EventTemplate): Promise<boolean> => {
    let event: NostrEvent
    try {
      event = await opts.sign(template)
    } catch (err) {
      error.value = err instanceof Error ? err.message : String(err)
      return false
    }
    const outcome = await pool.publish(event, opts.relays())
    if (!outcome.ok) {
      error.value = describeRefusal(outcome.refused[0]?.reason ?? 'no relay to send to')
      return false
    }
    error.value = undefined
    apply(event) // show it at once; the relay's echo is deduplicated by id
    return true
  }

  const now = opts.now ?? (() => Math.floor(Date.now() / 1000))

  return {
    messages,
    error,
    sending,
    replyTo,
    quote,
    pinnedId,
    pinned: computed(() => {
      void version.value
      const id = pinnedId.value
      return id === undefined ? undefined : items.get(id)
    }),
    slowMode,
    apply,
    async send(text) {
      const content = text.trim()
      if (content === '') return false
      const wait = lastSentAt === undefined ? 0 : lastSentAt + slowMode.value - now()
      if (wait > 0) {
        error.value = `Slow mode is on: you can send again in ${wait} s.`
        return false
      }
      sending.value = true
      try {
        const r = replyTo.value
        const q = quote.value
        const relay = opts.relays()[0] ?? ''
        const template = buildChatMessage(
          {
            coordinate: opts.coordinate,
            relay,
            content: q ? `${content}\nnostr:${q.id}` : content,
            ...(r ? { replyTo: { id: r.id, relay } } : {}),
            ...(q ? { quote: { ref: q.id, relay, pubkey: q.pubkey } } : {}),
          },
          now(),
        )
        const ok = await publish(template)
        if (ok) {
          lastSentAt = now()
          replyTo.value = undefined
          quote.value = undefined
        }
        return ok
      } finally {
        sending.value = false
      }
    },
    react(target, emoji) {
      return publish({
        kind: KIND_REACTION,
        created_at: now(),
        content: emoji,
        tags: [
          ['e', target.id, opts.relays()[0] ?? ''],
          ['p', target.pubkey],
          ['a', address],
          ['k', String(target.kind)],
        ],
      })
    },
    report(target, type, note = '') {
      return publish({
        kind: KIND_REPORT,
        created_at: now(),
        content: note,
        tags: [
          ['e', target.id, type],
          ['p', target.pubkey, type],
        ],
      })
    },
    start() {
      const filters = [
        { kinds: [KIND_LIVE_CHAT], '#a': [address], limit: 200 },
        { kinds: [KIND_REACTION], '#a': [address], limit: 500 },
        { kinds: [KIND_DELETION], authors: [...new Set([opts.coordinate.pubkey, ...opts.moderators()])], since: now() - 86_400 },
      ]
      return pool.subscribe(filters, { onevent: apply }, opts.relays())
    },
  }
}
