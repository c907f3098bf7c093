import { describe, expect, it } from 'vitest'
import { getKindClass } from './kinds.ts'

describe('getKindClass', () => {
  it('follows the NIP-01 ranges', () => {
    expect(getKindClass(0)).toBe('replaceable')
    expect(getKindClass(1)).toBe('regular')
    expect(getKindClass(3)).toBe('replaceable')
    expect(getKindClass(9999)).toBe('regular')
    expect(getKindClass(10000)).toBe('replaceable')
    expect(getKindClass(19999)).toBe('replaceable')
    expect(getKindClass(20000)).toBe('ephemeral')
    expect(getKindClass(29999)).toBe('ephemeral')
    expect(getKindClass(30000)).toBe('addressable')
    expect(getKindClass(39999)).toBe('addressable')
    expect(getKindClass(40000)).toBe('regular')
  })
})
