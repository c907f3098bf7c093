import { describe, expect, it } from 'vitest'
import { describeRefusal } from './refusal.ts'

describe('describeRefusal', () => {
  it('turns NIP-01 prefixes into plain words, keeping the relay detail', () => {
    expect(describeRefusal('blocked: you are muted by the host of this stream')).toBe("You can't chat here: the host has muted you.")
    expect(describeRefusal('blocked: chat is off for this stream')).toBe('The relay refused this: chat is off for this stream.')
    expect(describeRefusal('rate-limited: slow mode: wait 3s')).toBe("You're sending too fast (slow mode: wait 3s). Try again in a moment.")
    expect(describeRefusal('invalid: event too large')).toBe('The relay says this is not valid: event too large.')
    expect(describeRefusal('duplicate: already have this event')).toBe('Already sent.')
    expect(describeRefusal('auth-required: sign in')).toMatch(/allowed to post/)
  })

  it('explains connection failures without jargon', () => {
    expect(describeRefusal('publish timed out')).toMatch(/did not answer in time/)
    expect(describeRefusal('could not connect to ws://x: connection failed')).toMatch(/Could not reach the relay/)
    expect(describeRefusal('')).toBe('The relay refused this.')
  })
})
