/**
 * NIP-01 machine-readable prefixes for OK and CLOSED messages. A rejection anywhere in
 * Relaycast is a `Rejection` value built with one of these, never an exception.
 */
export const PREFIXES = [
  'duplicate',
  'pow',
  'blocked',
  'rate-limited',
  'invalid',
  'restricted',
  'mute',
  'error',
  'auth-required',
] as const

export type Prefix = (typeof PREFIXES)[number]

/** A rejection reason: `"<prefix>: <specific, human-readable text>"`. */
export type Rejection = `${Prefix}: ${string}`

export const reason = (prefix: Prefix, message: string): Rejection => `${prefix}: ${message}`

export const invalid = (message: string): Rejection => reason('invalid', message)
export const blocked = (message: string): Rejection => reason('blocked', message)
export const rateLimited = (message: string): Rejection => reason('rate-limited', message)
export const duplicate = (message: string): Rejection => reason('duplicate', message)
export const restricted = (message: string): Rejection => reason('restricted', message)
export const authRequired = (message: string): Rejection => reason('auth-required', message)
export const error = (message: string): Rejection => reason('error', message)

/** The prefix of a reason string, if it has a known one. Never throws. */
export function getPrefix(text: string): Prefix | undefined {
  const i = text.indexOf(':')
  if (i < 0) return undefined
  const p = text.slice(0, i)
  return (PREFIXES as readonly string[]).includes(p) ? (p as Prefix) : undefined
}
