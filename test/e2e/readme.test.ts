import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { README_PATH, findDefault, renderOptionsMarkdown, replaceOptionsBlock } from '../../bin/options-doc.ts'
import { EXIT } from '../../bin/preflight.ts'
import { OPTIONS as RELAY_OPTIONS, DEFAULT_CONFIG as RELAY_DEFAULTS } from '../../relay/config.ts'
import { OPTIONS as DVM_OPTIONS, DEFAULT_CONFIG as DVM_DEFAULTS } from '../../dvm/config.ts'

const readme = readFileSync(README_PATH, 'utf8')
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }

describe('README operator docs', () => {
  it('keeps the two set-up commands, and npm start is relaycast start', () => {
    expect(readme).toContain('bash scripts/setup.sh && npm start')
    expect(readme).toContain('bash scripts/setup.sh && npm test')
    expect(pkg.scripts.start).toBe('node bin/relaycast.js start')
  })

  it('has the configuration tables as the config modules generate them (run `npx tsx bin/options-doc.ts --write`)', () => {
    expect(replaceOptionsBlock(readme)).toBe(readme)
    for (const o of [...RELAY_OPTIONS, ...DVM_OPTIONS]) expect(readme).toContain(`\`${o.env}\``)
  })

  it('finds each default from the config module, scaled to the unit the flag takes', () => {
    const opt = (flag: string, list: readonly { flag: string }[]) => list.find((o) => o.flag === flag) as Parameters<typeof findDefault>[0]
    expect(findDefault(opt('--port', RELAY_OPTIONS), RELAY_DEFAULTS)).toBe('7777')
    expect(findDefault(opt('--grace', DVM_OPTIONS), DVM_DEFAULTS)).toBe(String(DVM_DEFAULTS.graceMs / 1000))
    expect(findDefault(opt('--public-url', DVM_OPTIONS), DVM_DEFAULTS)).toBe('unset')
    expect(renderOptionsMarkdown()).not.toContain('| ? |')
  })

  it('documents every exit code of relaycast start', () => {
    for (const code of Object.values(EXIT)) expect(readme).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'))
  })
})
