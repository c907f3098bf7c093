import { KIND_LIVE_EVENT, KIND_SERVICE_METRICS } from '../protocol/kinds.ts'
import type { Config } from './config.ts'

/** The NIP-11 relay information document, built from the config alone (pure). */

/** What the core always does; extensions add theirs (53 live-now, 77 negentropy) only when enabled. */
export const SUPPORTED_NIPS = [1, 9, 11, 40, 42, 45, 70] as const
export const SOFTWARE = 'relaycast'
export const VERSION = '0.1.0'

export interface RelayInfo {
  name: string
  description: string
  pubkey?: string
  /** The relay's own service key, which signs its 31337 metrics. */
  self: string
  contact?: string
  supported_nips: number[]
  software: string
  version: string
  limitation: Record<string, number | boolean>
  /** Our additions, each described for operators and client authors. */
  relaycast: Record<string, unknown>
}

export interface InfoAdditions {
  supportedNips?: number[]
  info?: Record<string, unknown>
}

export function buildRelayInfo(config: Config, self: string, additions: readonly InfoAdditions[] = []): RelayInfo {
  const l = config.limits
  const nips = new Set<number>(SUPPORTED_NIPS)
  for (const a of additions) for (const n of a.supportedNips ?? []) nips.add(n)
  const info: RelayInfo = {
    name: config.name,
    description: config.description,
    self,
    supported_nips: [...nips].sort((a, b) => a - b),
    software: SOFTWARE,
    version: VERSION,
    limitation: {
      max_message_length: l.maxMessageBytes,
      max_subscriptions: l.maxSubscriptions,
      max_limit: l.maxLimit,
      default_limit: l.defaultLimit,
      max_subid_length: l.maxSubIdLength,
      max_event_tags: l.maxEventTags,
      max_content_length: l.maxContentBytes,
      min_pow_difficulty: 0,
      // NIP-11's auth_required means AUTH before anything at all; we only ever gate writes.
      auth_required: false,
      payment_required: false,
      restricted_writes: config.authRequiredForWrites || config.allowedKinds !== undefined,
      created_at_upper_limit: config.createdAtMaxFutureSeconds,
      ...(config.createdAtMaxPastSeconds > 0 ? { created_at_lower_limit: config.createdAtMaxPastSeconds } : {}),
    },
    relaycast: {
      status_tag_index: {
        description: 'the multi-letter tag filter #status is answered for these kinds',
        kinds: [KIND_LIVE_EVENT, KIND_SERVICE_METRICS],
      },
      honest_ok: {
        description: 'OK true is sent only after the event is durably committed',
      },
      max_filters: l.maxFiltersPerReq,
      max_values_per_filter: l.maxValuesPerFilter,
    },
  }
  if (config.operatorPubkey) info.pubkey = config.operatorPubkey
  if (config.contact) info.contact = config.contact
  for (const a of additions) Object.assign(info.relaycast, a.info)
  return info
}
