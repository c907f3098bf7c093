import type { Locator, Page } from 'playwright-core'

/**
 * Form and text helpers that work whatever element the client chose for a data-testid
 * (input, textarea, select, checkbox, a group of radios), so the tests hold to the contract's
 * test ids and nothing else.
 */

export const tid = (page: Page | Locator, id: string): Locator => page.getByTestId(id)

type Control = 'select' | 'check' | 'input' | 'other'

const controlOf = (loc: Locator): Promise<Control> =>
  loc.evaluate((el) => {
    if (el instanceof HTMLSelectElement) return 'select'
    if (el instanceof HTMLInputElement) return el.type === 'checkbox' || el.type === 'radio' ? 'check' : 'input'
    if (el instanceof HTMLTextAreaElement) return 'input'
    return 'other'
  })

export interface Option {
  value: string
  label: string
}

export const getOptions = (loc: Locator): Promise<Option[]> =>
  loc.evaluate((el) => (el instanceof HTMLSelectElement ? [...el.options].map((o) => ({ value: o.value, label: (o.label || o.text).trim() })) : []))

/**
 * Sets a field: text for inputs, checked state for checkboxes, and for selects (or radio groups)
 * the first option `choose` accepts (the first non-empty one when it accepts none). Returns what
 * was set (the chosen option's label for selects).
 */
export async function setField(loc: Locator, value: string | boolean, choose?: (o: Option) => boolean): Promise<string> {
  await loc.waitFor({ state: 'visible', timeout: 15_000 })
  const control = await controlOf(loc)
  if (control === 'check') {
    await loc.setChecked(Boolean(value))
    return String(Boolean(value))
  }
  if (control === 'input') {
    await loc.fill(String(value))
    return String(value)
  }
  const accept = choose ?? ((o: Option) => o.value === value || o.label.toLowerCase() === String(value).toLowerCase())
  if (control === 'select') {
    const options = (await getOptions(loc)).filter((o) => o.value !== '')
    const option = options.find(accept) ?? options[0]
    if (!option) throw new Error('the select has no options')
    await loc.selectOption(option.value)
    return option.label
  }
  // A group (fieldset/div) of radios: pick by accessible name.
  const radios = loc.getByRole('radio')
  const n = await radios.count()
  for (let i = 0; i < n; i++) {
    const r = radios.nth(i)
    const label = ((await r.getAttribute('aria-label')) ?? (await r.evaluate((el) => (el as HTMLInputElement).labels?.[0]?.textContent ?? ''))).trim()
    const v = (await r.getAttribute('value')) ?? ''
    if (accept({ value: v, label })) {
      await r.check()
      return label || v
    }
  }
  throw new Error(`no control to set ${JSON.stringify(value)} on (not an input, select or radio group)`)
}

/** An input's value, otherwise the element's visible text; trimmed. */
export const readText = (loc: Locator): Promise<string> =>
  loc.evaluate((el) => (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement ? el.value : (el as HTMLElement).innerText ?? el.textContent ?? '').trim())

/** Waits until the element's text passes `accept`; rejects with the last text seen. */
export async function waitForText(loc: Locator, what: string, accept: (text: string) => boolean, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  let last = '(element absent)'
  for (;;) {
    if ((await loc.count()) > 0) {
      last = await readText(loc.first()).catch(() => last)
      if (accept(last)) return last
    }
    if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms; last text ${JSON.stringify(last.slice(0, 200))}`)
    await loc.page().waitForTimeout(250)
  }
}

/** The selected option's label of a select; '' for anything else. */
export const getSelected = (loc: Locator): Promise<string> =>
  loc.evaluate((el) => (el instanceof HTMLSelectElement ? `${el.value} ${el.selectedOptions[0]?.label ?? ''}`.trim() : ''))
