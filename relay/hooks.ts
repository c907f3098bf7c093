import type { ClientMessage } from '../protocol/messages.ts'
import type { WriteResult } from '../protocol/store.ts'
import type { Filter, NostrEvent, Signer } from '../protocol/types.ts'
import type { Client, ClientInfo } from './client.ts'
import type { Config } from './config.ts'
import type { Policy } from './policies.ts'
import type { RelayStore } from './store-port.ts'

/**
 * How features beyond NIP-01 plug into the core without the core knowing them (live-now,
 * presence and chat rules in live.ts, NIP-77 in negentropy.ts). Each hook is optional; hooks of
 * several extensions run in the order the extensions were given.
 */
export interface RelayExtension {
  name: string
  /** Added to NIP-11 `supported_nips`. */
  supportedNips?: number[]
  /** Merged into NIP-11 `relaycast` (our extensions document). */
  info?: Record<string, unknown>
  /** Write policies, run after the built-in ones; the first rejection wins. */
  policies?: Policy[]
  /** An event was accepted: committed (stored or not), or an ephemeral one fanned out. */
  afterCommit?(event: NostrEvent, result: Extract<WriteResult, { ok: true }>): void
  /**
   * Follow-up work the author's OK waits for (a moderator's deletion removing chat); runs after
   * afterCommit. A failure is logged; the OK still reports the commit.
   */
  beforeOk?(event: NostrEvent, result: Extract<WriteResult, { ok: true }>): void | Promise<void>
  /**
   * Answers a REQ's stored part itself (JSON texts, newest first; the live-now freshness rule),
   * or undefined to leave it to the store. The first extension that answers wins.
   */
  answerQuery?(req: QueryRequest): Promise<string[]> | undefined
  /** Answers a COUNT itself (the live-now freshness rule), or undefined to leave it to the store. */
  answerCount?(req: QueryRequest): Promise<number> | undefined
  /** A live subscription opened, was replaced (closed, then opened), or closed. */
  subscriptionOpened?(sub: QueryRequest): void
  subscriptionClosed?(sub: QueryRequest): void
  /** A connection ended (after its subscriptions were closed). */
  clientClosed?(client: ClientInfo): void
  /** Handlers for verbs the core leaves alone (NIP-77 NEG-OPEN, NEG-MSG, NEG-CLOSE). */
  messages?: Partial<Record<ExtensionVerb, (msg: ClientMessage, client: Client) => void | Promise<void>>>
  /** Called once the relay is listening; `stop` before it closes. */
  start?(api: RelayApi): void | Promise<void>
  stop?(): void | Promise<void>
}

export type ExtensionVerb = 'NEG-OPEN' | 'NEG-MSG' | 'NEG-CLOSE'

export interface QueryRequest {
  client: ClientInfo
  subId: string
  filters: Filter[]
}

/** What an extension may use of the relay. */
export interface RelayApi {
  readonly config: Config
  readonly store: RelayStore
  /** The relay's service pubkey (NIP-11 `self`). */
  readonly pubkey: string
  /** Signs with the relay's service key. */
  readonly sign: Signer
  /** Publishes as the relay: writer, then fan-out and afterCommit hooks; skips write policies. */
  publish(event: NostrEvent): Promise<WriteResult>
  /** Runs store work (removals, sweeps) alone, between write batches. */
  exclusive<T>(task: () => Promise<T>): Promise<T>
  /** Unix seconds, from the relay's clock. */
  now(): number
  readonly log: Logger
  /**
   * Opens a connection inside the process (relay-to-relay sync), seen by policies as coming from
   * `ip`: what it sends takes a socket's path (parse, verify, policies, writer) and every answer
   * goes to `receive`, starting with the AUTH challenge.
   */
  connectLocal(ip: string, receive: (text: string) => void): LocalConnection
}

export interface LocalConnection {
  send(text: string): void
  close(): void
}

export type Logger = Pick<Console, 'info' | 'warn' | 'error'>

type NotifyHook = 'afterCommit' | 'subscriptionOpened' | 'subscriptionClosed' | 'clientClosed'

/** Runs every beforeOk hook; a promise only when some hook's work is still going on. */
export function settleExtensions(
  extensions: readonly RelayExtension[],
  log: Logger,
  event: NostrEvent,
  result: Extract<WriteResult, { ok: true }>,
): Promise<void> | undefined {
  let pending: Promise<void>[] | undefined
  for (const ext of extensions) {
    if (!ext.beforeOk) continue
    const failed = (err: unknown): void => log.error(`${ext.name}: beforeOk failed`, err)
    try {
      const work = ext.beforeOk(event, result)
      if (work) (pending ??= []).push(work.catch(failed))
    } catch (err) {
      failed(err)
    }
  }
  return pending && Promise.all(pending).then(() => undefined)
}

/** Calls one notification hook on every extension; a bug in one is logged, never spread. */
export function notifyExtensions<K extends NotifyHook>(
  extensions: readonly RelayExtension[],
  log: Logger,
  hook: K,
  ...args: Parameters<NonNullable<RelayExtension[K]>>
): void {
  for (const ext of extensions) {
    const fn = ext[hook] as ((...a: typeof args) => void) | undefined
    if (!fn) continue
    try {
      fn.apply(ext, args)
    } catch (err) {
      log.error(`${ext.name}: ${hook} failed`, err)
    }
  }
}
