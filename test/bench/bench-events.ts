/**
 * The relay bench's events: a live-stream mix of chat (1311 with an `a` tag to a stream) and
 * notes with hashtags, ~400–700 bytes of JSON each, from 200 authors. Templates are signed for
 * the ingest run; the bulk store (1M) uses the same shapes with random ids and signatures, which
 * the read path never checks.
 */
import { randomBytes } from 'node:crypto'
import { KIND_LIVE_CHAT, KIND_LIVE_EVENT, KIND_TEXT_NOTE } from '../../protocol/kinds.ts'
import type { EventTemplate, NostrEvent } from '../../protocol/types.ts'

export const AUTHORS = 200
export const STREAMS = 20
export const HASHTAGS = ['music', 'gaming', 'irl', 'art', 'coding', 'talk', 'sports', 'news', 'science', 'travel']
const WORDS = 'the stream looks great tonight can you turn the music down a bit haha gg nice play chat is wild hello from berlin what a clutch'.split(' ')

/** Deterministic filler text of about `length` characters. */
export function text(i: number, length: number): string {
  let s = `#${i} `
  while (s.length < length) s += WORDS[(i * 7 + s.length) % WORDS.length] + ' '
  return s.trim()
}

/** `30311:<host>:<d>` for stream `s`, hosted by one of the first authors. */
export const streamCoordinate = (hosts: readonly string[], s: number): string => `${KIND_LIVE_EVENT}:${hosts[s % hosts.length]}:stream-${s}`

/** Event i of the mix: 60% chat, 40% notes with one to three hashtags. */
export function makeTemplate(i: number, createdAt: number, hosts: readonly string[]): EventTemplate {
  if (i % 5 < 3) {
    return {
      kind: KIND_LIVE_CHAT,
      created_at: createdAt,
      tags: [['a', streamCoordinate(hosts, i % STREAMS), 'wss://relay.example.com', 'root']],
      content: text(i, 80 + ((i * 37) % 160)),
    }
  }
  const tags = [['t', HASHTAGS[i % HASHTAGS.length]]]
  if (i % 3) tags.push(['t', HASHTAGS[(i >> 2) % HASHTAGS.length]])
  if (i % 7 === 0) tags.push(['t', HASHTAGS[(i >> 4) % HASHTAGS.length]])
  return { kind: KIND_TEXT_NOTE, created_at: createdAt, tags, content: text(i, 150 + ((i * 53) % 250)) }
}

/** Unsigned random hex ids and signatures, in bulk (one randomBytes call per batch). */
export function randomHex(count: number, bytes: number): string[] {
  const hex = randomBytes(count * bytes).toString('hex')
  return Array.from({ length: count }, (_, i) => hex.slice(i * bytes * 2, (i + 1) * bytes * 2))
}

/** A batch of well-shaped, unsigned events of the mix for the bulk store, event numbers from..to. */
export function makeBulkEvents(from: number, to: number, authors: readonly string[], newest: number): NostrEvent[] {
  const n = to - from
  const ids = randomHex(n, 32)
  const sigs = randomHex(n, 64)
  return Array.from({ length: n }, (_, k) => {
    const i = from + k
    const t = makeTemplate(i, newest - Math.floor((to - i) / 4), authors)
    return { ...t, id: ids[k], pubkey: authors[(i * 7919) % authors.length], sig: sigs[k] }
  })
}

/**
 * Live events (30311) for the live-now query: `count` distinct addresses (hosts × d tags). One in
 * `liveEvery` is live and fresh (updated in the last 50 minutes); the rest ended, hours ago.
 */
export function makeLiveEvents(from: number, to: number, hosts: readonly string[], newest: number, liveEvery: number): NostrEvent[] {
  const n = to - from
  const ids = randomHex(n, 32)
  const sigs = randomHex(n, 64)
  return Array.from({ length: n }, (_, k) => {
    const i = from + k
    const live = i % liveEvery === 0
    const tags = [
      ['d', `show-${Math.floor(i / hosts.length)}`],
      ['title', text(i, 40)],
      ['summary', text(i + 1, 80)],
      ['t', HASHTAGS[i % HASHTAGS.length]],
      ['streaming', `https://media.example.com/hls/${ids[k].slice(0, 16)}/master.m3u8`],
      ['status', live ? 'live' : 'ended'],
      ['starts', String(newest - 7200)],
      ['current_participants', String(i % 500)],
      ['relays', 'wss://relay.example.com'],
    ]
    const created_at = live ? newest - (i % 3000) : newest - 10_000 - (i % 100_000)
    return { kind: KIND_LIVE_EVENT, created_at, tags, content: '', id: ids[k], pubkey: hosts[i % hosts.length], sig: sigs[k] }
  })
}
