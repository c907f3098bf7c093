/**
 * Caps on what a client may send. One object, passed to every parser, so the relay's config,
 * its NIP-11 `limitation` document and the parsers can never disagree.
 */
export interface Limits {
  /** Largest client message, in UTF-8 bytes (NIP-11 `max_message_length`). */
  maxMessageBytes: number
  /** Longest subscription id, in characters (NIP-11 `max_subid_length`; NIP-01 says 64). */
  maxSubIdLength: number
  /** Most filters in one REQ or COUNT. */
  maxFiltersPerReq: number
  /** Most values in one filter list: ids, authors, kinds, or one tag's values. */
  maxValuesPerFilter: number
  /** Largest `limit` honoured; bigger ones are clamped, not refused (NIP-11 `max_limit`). */
  maxLimit: number
  /** `limit` used when a filter gives none (NIP-11 `default_limit`). */
  defaultLimit: number
  /** Most tags on one event; enforced by event validation (NIP-11 `max_event_tags`). */
  maxEventTags: number
  /** Largest event content, in UTF-8 bytes; enforced by event validation (NIP-11 `max_content_length`). */
  maxContentBytes: number
  /** Most open subscriptions per connection; enforced by the relay (NIP-11 `max_subscriptions`). */
  maxSubscriptions: number
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxMessageBytes: 128 * 1024,
  maxSubIdLength: 64,
  maxFiltersPerReq: 10,
  maxValuesPerFilter: 1000,
  maxLimit: 5000,
  defaultLimit: 500,
  maxEventTags: 2000,
  maxContentBytes: 64 * 1024,
  maxSubscriptions: 50,
})

/** Exact UTF-8 length of a string; a lone surrogate counts 3 bytes, as TextEncoder writes U+FFFD. */
export function getUtf8Length(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x80) bytes += 1
    else if (c < 0x800) bytes += 2
    else if (c >= 0xd800 && c < 0xdc00 && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}

/**
 * Whether `text` fits in `maxBytes` UTF-8 bytes. A UTF-16 unit takes 1 to 3 bytes (a pair takes
 * 4), so the string length alone settles most cases; the rest are encoded natively into a
 * scratch buffer of `maxBytes`, which stops at the first character that does not fit
 * (about 40× faster than a JS loop on ASCII).
 */
export function isWithinByteLimit(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return false
  if (text.length * 3 <= maxBytes) return true
  if (scratch.length < maxBytes) scratch = new Uint8Array(maxBytes)
  return encoder.encodeInto(text, scratch.subarray(0, maxBytes)).read === text.length
}

const encoder = new TextEncoder()
/** Reused by isWithinByteLimit; its contents are never read. */
let scratch = new Uint8Array(0)

const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c < 0xe000
