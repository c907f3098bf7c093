/** The bottom layer: plain data types shared by every part. No logic lives here. */

/** What a builder returns: everything but the author, id and signature. */
export interface EventTemplate {
  kind: number
  tags: string[][]
  content: string
  created_at: number
}

/** A template with its author: enough to compute the id. */
export interface UnsignedEvent extends EventTemplate {
  pubkey: string
}

/** A complete, signed NIP-01 event. */
export interface NostrEvent extends UnsignedEvent {
  id: string
  sig: string
}

/**
 * A NIP-01 filter. Single-letter tag filters are `#x`; we also accept the multi-letter
 * `#status` extension (indexed for 30311 and 31337), so any `#…` key is allowed here and
 * the parser decides which ones are supported.
 */
export interface Filter {
  ids?: string[]
  authors?: string[]
  kinds?: number[]
  since?: number
  until?: number
  limit?: number
  search?: string
  [tag: `#${string}`]: string[] | undefined
}

/** Signs a template. Injected wherever events are made (browser extension, local key, test key). */
export type Signer = (template: EventTemplate) => Promise<NostrEvent> | NostrEvent

/** Checks an event's signature (and nothing else). Injected so the fastest backend can be used. */
export type SignatureCheck = (event: NostrEvent) => boolean

/** A clock in unix seconds, injected so time-dependent rules are testable. */
export type Clock = () => number
