import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseCoordinate } from './coordinate.ts'
import { KIND_PRESENCE, KIND_TEXT_NOTE } from './kinds.ts'
import { buildPresence, getPresenceTarget } from './presence.ts'
import { COHOST, COORD, T0, presence } from '../test/fixtures/events.ts'

const coordinate = parseCoordinate(COORD)

describe('10312 presence', () => {
  it('builds exactly the fixture presence', () => {
    expect(buildPresence(coordinate, presence.created_at)).toEqual({
      kind: KIND_PRESENCE,
      created_at: presence.created_at,
      tags: presence.tags,
      content: '',
    })
  })

  it('invariant: getPresenceTarget(buildPresence(c)) is c, through JSON', () => {
    const identifier = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constant('a:b:c'))
    fc.assert(
      fc.property(identifier, (id) => {
        const c = { ...coordinate, identifier: id }
        expect(getPresenceTarget(JSON.parse(JSON.stringify(buildPresence(c, T0))))).toEqual(c)
      }),
      { numRuns: 1000 },
    )
  })

  it('reads the fixture, and ignores a tags that are not 30311 coordinates', () => {
    expect(getPresenceTarget(presence)).toEqual(coordinate)
    const tags = [['a', `30023:${COHOST}:article`], ['a', 'junk'], ['a', COORD]]
    expect(getPresenceTarget({ ...presence, tags })).toEqual(coordinate)
    expect(getPresenceTarget({ ...presence, tags: tags.slice(0, 2) })).toBeUndefined()
    expect(getPresenceTarget({ ...presence, kind: KIND_TEXT_NOTE })).toBeUndefined()
  })
})
