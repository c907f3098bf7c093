import { FilterError, parseFilter } from './filter.ts'
import { DEFAULT_LIMITS, isWithinByteLimit } from './limits.ts'
import type { Limits } from './limits.ts'
import { invalid } from './reasons.ts'
import type { Rejection } from './reasons.ts'
import type { Filter, NostrEvent } from './types.ts'

// NIP-01 wire messages (plus NIP-42 AUTH, NIP-45 COUNT, NIP-77 NEG-*), as the JSON arrays
// they are on the wire, so serializing is JSON.stringify and the verb discriminates.

/** The event payload stays `unknown`: event validation gives the specific reason. */
export type ClientEvent = [verb: 'EVENT', event: unknown]
/** At least one filter; the parser enforces it. */
export type ClientReq = [verb: 'REQ', subId: string, ...filters: Filter[]]
export type ClientClose = [verb: 'CLOSE', subId: string]
export type ClientAuth = [verb: 'AUTH', event: unknown]
export type ClientCount = [verb: 'COUNT', subId: string, ...filters: Filter[]]
/** `message` is hex, as NIP-77 sends it. */
export type ClientNegOpen = [verb: 'NEG-OPEN', subId: string, filter: Filter, message: string]
export type ClientNegMsg = [verb: 'NEG-MSG', subId: string, message: string]
export type ClientNegClose = [verb: 'NEG-CLOSE', subId: string]

export type ClientMessage =
  | ClientEvent
  | ClientReq
  | ClientClose
  | ClientAuth
  | ClientCount
  | ClientNegOpen
  | ClientNegMsg
  | ClientNegClose

export type ClientVerb = ClientMessage[0]

/** NIP-45 answer; `hll` is the optional HyperLogLog registers in hex. */
export interface CountResult {
  count: number
  approximate?: boolean
  hll?: string
}

export type RelayEvent = [verb: 'EVENT', subId: string, event: NostrEvent]
export type RelayOk = [verb: 'OK', eventId: string, accepted: boolean, message: string]
export type RelayEose = [verb: 'EOSE', subId: string]
export type RelayClosed = [verb: 'CLOSED', subId: string, message: string]
export type RelayNotice = [verb: 'NOTICE', message: string]
export type RelayAuth = [verb: 'AUTH', challenge: string]
export type RelayCount = [verb: 'COUNT', subId: string, result: CountResult]
export type RelayNegMsg = [verb: 'NEG-MSG', subId: string, message: string]
export type RelayNegErr = [verb: 'NEG-ERR', subId: string, message: string]

export type RelayMessage =
  | RelayEvent
  | RelayOk
  | RelayEose
  | RelayClosed
  | RelayNotice
  | RelayAuth
  | RelayCount
  | RelayNegMsg
  | RelayNegErr

export type RelayVerb = RelayMessage[0]

/** What is known about a refused message, so the relay can answer with CLOSED, OK or NEG-ERR. */
export interface MessageContext {
  /** The verb, when the message had a known one. */
  verb?: ClientVerb | RelayVerb
  /** The subscription id when it was a string, even one refused for its length. */
  subId?: string
  /** The event id when the payload carried a 64-hex `id`, so OK can name it. */
  eventId?: string
}

/** A message the parser refused; answer with `reason` (NOTICE when no verb/subId/eventId fits). */
export class MessageError extends Error implements MessageContext {
  override readonly name = 'MessageError'
  readonly reason: Rejection
  readonly verb?: ClientVerb | RelayVerb
  readonly subId?: string
  readonly eventId?: string

  constructor(reason: Rejection, context: MessageContext = {}, options?: ErrorOptions) {
    super(reason, options)
    this.reason = reason
    if (context.verb !== undefined) this.verb = context.verb
    if (context.subId !== undefined) this.subId = context.subId
    if (context.eventId !== undefined) this.eventId = context.eventId
  }
}

const CLIENT_VERBS: readonly string[] = ['EVENT', 'REQ', 'CLOSE', 'AUTH', 'COUNT', 'NEG-OPEN', 'NEG-MSG', 'NEG-CLOSE']
const RELAY_VERBS: readonly string[] = ['EVENT', 'OK', 'EOSE', 'CLOSED', 'NOTICE', 'AUTH', 'COUNT', 'NEG-MSG', 'NEG-ERR']
const HEX64 = /^[0-9a-f]{64}$/
const HEX_BYTES = /^(?:[0-9a-fA-F]{2})+$/

/**
 * Parses one client message. The size cap is checked before JSON.parse; when the text is too
 * big or not JSON, the verb, sub id and event id are still sniffed so the answer can name them.
 * Throws MessageError (filter problems carry the FilterError's reason).
 */
export function parseClientMessage(text: string, limits: Limits = DEFAULT_LIMITS): ClientMessage {
  if (!isWithinByteLimit(text, limits.maxMessageBytes)) {
    throw new MessageError(invalid(`message is larger than ${limits.maxMessageBytes} bytes`), sniff(text))
  }
  const msg = parseArray(text, true)
  const verb = msg[0] as ClientVerb
  if (!CLIENT_VERBS.includes(verb)) throw new MessageError(invalid(`unknown message type ${quote(verb)}`))
  if (verb === 'EVENT' || verb === 'AUTH') {
    if (msg.length !== 2) {
      throw new MessageError(invalid(`${verb} takes exactly one event`), { verb, ...getEventId(msg[1]) })
    }
    return [verb, msg[1]]
  }
  // Every other client message names a subscription second.
  const context: MessageContext = { verb, ...getSubIdContext(msg[1]) }
  const subId = parseSubId(msg[1], context, limits)
  switch (verb) {
    case 'REQ':
    case 'COUNT': {
      if (msg.length < 3) throw new MessageError(invalid(`${verb} needs at least one filter`), context)
      if (msg.length - 2 > limits.maxFiltersPerReq) {
        throw new MessageError(invalid(`too many filters (${msg.length - 2} > ${limits.maxFiltersPerReq})`), context)
      }
      const filters = new Array<Filter>(msg.length - 2)
      for (let i = 2; i < msg.length; i++) filters[i - 2] = parseFilterIn(msg[i], context, limits)
      return [verb, subId, ...filters]
    }
    case 'CLOSE':
    case 'NEG-CLOSE':
      if (msg.length !== 2) throw new MessageError(invalid(`${verb} takes only a subscription id`), context)
      return [verb, subId]
    case 'NEG-OPEN':
      if (msg.length !== 4) {
        throw new MessageError(invalid('NEG-OPEN takes a subscription id, a filter and a hex message'), context)
      }
      return [verb, subId, parseFilterIn(msg[2], context, limits), parseHex(msg[3], context)]
    case 'NEG-MSG':
      if (msg.length !== 3) throw new MessageError(invalid('NEG-MSG takes a subscription id and a hex message'), context)
      return [verb, subId, parseHex(msg[2], context)]
  }
}

export function serializeClientMessage(msg: ClientMessage): string {
  return JSON.stringify(msg)
}

export function serializeRelayMessage(msg: RelayMessage): string {
  return JSON.stringify(msg)
}

/** The relay's hot path: wraps an event already stored as JSON without parsing it again. */
export function serializeEventMessage(subId: string, eventJson: string): string {
  return `["EVENT",${JSON.stringify(subId)},${eventJson}]`
}

/**
 * Parses one relay message, for our own clients and tests. Events are checked for shape only
 * (field types); verifying ids and signatures is the caller's job. Throws MessageError.
 */
export function parseRelayMessage(text: string): RelayMessage {
  const msg = parseArray(text, false)
  const verb = msg[0] as RelayVerb
  if (!RELAY_VERBS.includes(verb)) throw new MessageError(invalid(`unknown message type ${quote(verb)}`))
  const context = getRelayContext(verb, msg[1])
  const arity = (n: number, shape: string): void => {
    if (msg.length !== n) throw new MessageError(invalid(`${verb} takes ${shape}`), context)
  }
  const str = (i: number, what: string): string => {
    if (typeof msg[i] !== 'string') throw new MessageError(invalid(`${verb} ${what} must be a string`), context)
    return msg[i] as string
  }
  switch (verb) {
    case 'EVENT': {
      arity(3, 'a subscription id and an event')
      const subId = str(1, 'subscription id')
      if (!isEventShape(msg[2])) throw new MessageError(invalid('EVENT carries a malformed event'), context)
      return [verb, subId, msg[2]]
    }
    case 'OK':
      arity(4, 'an event id, a boolean and a message')
      if (typeof msg[2] !== 'boolean') throw new MessageError(invalid('OK status must be a boolean'), context)
      return [verb, str(1, 'event id'), msg[2], str(3, 'message')]
    case 'EOSE':
      arity(2, 'a subscription id')
      return [verb, str(1, 'subscription id')]
    case 'CLOSED':
    case 'NEG-ERR':
      arity(3, 'a subscription id and a message')
      return [verb, str(1, 'subscription id'), str(2, 'message')]
    case 'NOTICE':
      arity(2, 'a message')
      return [verb, str(1, 'message')]
    case 'AUTH':
      arity(2, 'a challenge')
      return [verb, str(1, 'challenge')]
    case 'COUNT':
      arity(3, 'a subscription id and a result')
      return [verb, str(1, 'subscription id'), parseCountResult(msg[2], context)]
    case 'NEG-MSG':
      arity(3, 'a subscription id and a hex message')
      return [verb, str(1, 'subscription id'), parseHex(msg[2], context)]
  }
}

/** `fromClient`: sniff a client message's names from text that is not JSON. */
function parseArray(text: string, fromClient: boolean): unknown[] {
  let msg: unknown
  try {
    msg = JSON.parse(text)
  } catch (err) {
    throw new MessageError(invalid('message is not JSON'), fromClient ? sniff(text) : {}, { cause: err })
  }
  if (!Array.isArray(msg)) throw new MessageError(invalid('message must be a JSON array'))
  if (typeof msg[0] !== 'string') throw new MessageError(invalid('message must start with a verb string'))
  return msg
}

function parseSubId(x: unknown, context: MessageContext, limits: Limits): string {
  if (typeof x !== 'string') throw new MessageError(invalid('subscription id must be a string'), context)
  if (x.length === 0) throw new MessageError(invalid('subscription id must not be empty'), context)
  if (x.length > limits.maxSubIdLength) {
    throw new MessageError(invalid(`subscription id is longer than ${limits.maxSubIdLength} characters`), context)
  }
  return x
}

function parseFilterIn(x: unknown, context: MessageContext, limits: Limits): Filter {
  try {
    return parseFilter(x, limits)
  } catch (err) {
    if (err instanceof FilterError) throw new MessageError(err.reason, context, { cause: err })
    throw err
  }
}

function parseHex(x: unknown, context: MessageContext): string {
  if (typeof x !== 'string' || !HEX_BYTES.test(x)) {
    throw new MessageError(invalid(`${context.verb} message must be non-empty hex`), context)
  }
  return x
}

function parseCountResult(x: unknown, context: MessageContext): CountResult {
  const r = x as Partial<Record<keyof CountResult, unknown>> | null
  if (typeof r !== 'object' || r === null || Array.isArray(r)) {
    throw new MessageError(invalid('COUNT result must be an object'), context)
  }
  if (typeof r.count !== 'number' || !Number.isSafeInteger(r.count) || r.count < 0) {
    throw new MessageError(invalid('COUNT count must be a non-negative integer'), context)
  }
  const result: CountResult = { count: r.count }
  if (r.approximate !== undefined) {
    if (typeof r.approximate !== 'boolean') throw new MessageError(invalid('COUNT approximate must be a boolean'), context)
    result.approximate = r.approximate
  }
  if (r.hll !== undefined) {
    if (typeof r.hll !== 'string') throw new MessageError(invalid('COUNT hll must be a string'), context)
    result.hll = r.hll
  }
  return result
}

function isEventShape(x: unknown): x is NostrEvent {
  if (typeof x !== 'object' || x === null) return false
  const e = x as Record<string, unknown>
  return (
    typeof e.id === 'string' &&
    typeof e.pubkey === 'string' &&
    typeof e.sig === 'string' &&
    typeof e.content === 'string' &&
    Number.isSafeInteger(e.kind) &&
    Number.isSafeInteger(e.created_at) &&
    Array.isArray(e.tags) &&
    e.tags.every((t) => Array.isArray(t) && t.every((v) => typeof v === 'string'))
  )
}

function getRelayContext(verb: RelayVerb, second: unknown): MessageContext {
  if (verb === 'OK') return { verb, ...getEventId({ id: second }) }
  if (verb === 'NOTICE' || verb === 'AUTH') return { verb }
  return { verb, ...getSubIdContext(second) }
}

const getSubIdContext = (x: unknown): MessageContext => (typeof x === 'string' ? { subId: x } : {})

function getEventId(x: unknown): MessageContext {
  const id = typeof x === 'object' && x !== null ? (x as { id?: unknown }).id : undefined
  return typeof id === 'string' && HEX64.test(id) ? { eventId: id } : {}
}

// Best effort on client text we will not parse (too big, or not JSON): read the verb and the
// subscription id from the head, and for EVENT/AUTH the event's `id` key. Outside JSON strings
// a `"id":` can only be an object key, and events have no nested objects.
const HEAD = /^\s*\[\s*"([A-Z-]{2,9})"\s*,\s*("(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*")?/
const ID_KEY = /"id"\s*:\s*"([0-9a-f]{64})"/
const HEAD_CHARS = 1024

function sniff(text: string): MessageContext {
  const head = HEAD.exec(text.slice(0, HEAD_CHARS))
  if (!head || !CLIENT_VERBS.includes(head[1])) return {}
  const verb = head[1] as ClientVerb
  if (verb === 'EVENT' || verb === 'AUTH') {
    const id = ID_KEY.exec(text)
    return id ? { verb, eventId: id[1] } : { verb }
  }
  // HEAD admits only valid escapes, so this JSON.parse cannot throw.
  return head[2] === undefined ? { verb } : { verb, subId: JSON.parse(head[2]) as string }
}

/** A verb for an error message: JSON-quoted, cut so an attacker's megabyte is not echoed. */
const quote = (verb: string): string => JSON.stringify(verb.length > 32 ? `${verb.slice(0, 32)}…` : verb)
