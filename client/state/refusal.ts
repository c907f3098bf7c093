import { getPrefix } from '../../protocol/reasons.ts'

/**
 * A relay's OK/CLOSED reason in plain words for the person who sent the event. The relay's own
 * text after the prefix is kept: it is already written for people ("slow mode: wait 3s").
 */
export function describeRefusal(reason: string): string {
  const prefix = getPrefix(reason)
  const detail = prefix ? reason.slice(prefix.length + 1).trim() : reason.trim()
  switch (prefix) {
    case 'blocked':
      return /mute/i.test(detail) ? `You can't chat here: the host has muted you.` : `The relay refused this: ${detail}.`
    case 'rate-limited':
      return `You're sending too fast${detail ? ` (${detail})` : ''}. Try again in a moment.`
    case 'invalid':
      return `The relay says this is not valid: ${detail}.`
    case 'restricted':
    case 'auth-required':
      return `The relay needs you to be allowed to post here: ${detail}.`
    case 'duplicate':
      return 'Already sent.'
    case 'pow':
      return `The relay wants proof of work: ${detail}.`
    case 'error':
      return `The relay had a problem: ${detail}.`
    default:
      if (/timed out/i.test(detail)) return 'The relay did not answer in time. Check your connection and try again.'
      if (/no connection|closed|connection/i.test(detail)) return 'Could not reach the relay. Check your connection and try again.'
      return detail === '' ? 'The relay refused this.' : `Not sent: ${detail}`
  }
}
