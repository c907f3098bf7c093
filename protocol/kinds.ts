/** Named kind constants: no magic numbers elsewhere. */

export const KIND_METADATA = 0
export const KIND_TEXT_NOTE = 1
export const KIND_CONTACTS = 3
export const KIND_DELETION = 5
export const KIND_LIVE_CHAT = 1311
/** NIP-51 mute list: a host's list mutes chatters on all of the host's streams. */
export const KIND_MUTE_LIST = 10000
/** NIP-53 room presence, signed by a viewer while watching. */
export const KIND_PRESENCE = 10312
export const KIND_AUTH = 22242
export const KIND_LIVE_EVENT = 30311
/** Service metrics (ours); also used elsewhere for audio tracks, see metrics.ts. */
export const KIND_SERVICE_METRICS = 31337
/** NIP-89 handler announcement (the DVM announces itself with k=5311). */
export const KIND_HANDLER_INFO = 31990
/** The live transcode job request (NIP-90 shape, our kind). */
export const KIND_TRANSCODE_REQUEST = 5311
/** The live transcode job result. */
export const KIND_TRANSCODE_RESULT = 6311
/** NIP-90 job feedback. */
export const KIND_JOB_FEEDBACK = 7000

export type KindClass = 'regular' | 'replaceable' | 'ephemeral' | 'addressable'

/** NIP-01 kind ranges. */
export function getKindClass(kind: number): KindClass {
  if (kind === 0 || kind === 3 || (kind >= 10000 && kind < 20000)) return 'replaceable'
  if (kind >= 20000 && kind < 30000) return 'ephemeral'
  if (kind >= 30000 && kind < 40000) return 'addressable'
  return 'regular'
}

export const isReplaceableKind = (kind: number): boolean => getKindClass(kind) === 'replaceable'
export const isEphemeralKind = (kind: number): boolean => getKindClass(kind) === 'ephemeral'
export const isAddressableKind = (kind: number): boolean => getKindClass(kind) === 'addressable'
export const isRegularKind = (kind: number): boolean => getKindClass(kind) === 'regular'
