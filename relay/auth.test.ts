import { describe, expect, it } from 'vitest'
import { isSameRelay } from './auth.ts'

describe('NIP-42 relay tag', () => {
  it.each([
    ['ws://127.0.0.1:7777', undefined, '127.0.0.1:7777', true],
    ['ws://127.0.0.1:7777/', undefined, '127.0.0.1:7777', true],
    ['wss://LOCALHOST:7777', undefined, 'localhost:7777', true],
    ['ws://127.0.0.1:7778', undefined, '127.0.0.1:7777', false],
    ['http://127.0.0.1:7777', undefined, '127.0.0.1:7777', false],
    ['not a url', undefined, '127.0.0.1:7777', false],
    ['ws://anything', undefined, '', false],
    ['wss://relay.example.org', 'wss://relay.example.org/', '127.0.0.1:7777', true],
    ['wss://relay.example.org/other', 'wss://relay.example.org/', '127.0.0.1:7777', false],
    ['ws://127.0.0.1:7777', 'wss://relay.example.org/', '127.0.0.1:7777', false],
  ])('%s (public %s, Host %s) → %s', (url, publicUrl, host, expected) => {
    expect(isSameRelay(url, publicUrl, host)).toBe(expected)
  })
})
