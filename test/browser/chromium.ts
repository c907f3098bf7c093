import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core'
import { REPO_ROOT } from './system.ts'

/**
 * Debian's Chromium driven by playwright-core, with the flags that work as root on this machine
 * (MEDIA-NOTES.md), and small helpers: pages that remember their console errors, screenshots
 * kept under test-artifacts/ (git-ignored).
 */

export const CHROMIUM_PATH = '/usr/bin/chromium'

export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
]

export const ARTIFACTS_DIR = join(REPO_ROOT, 'test-artifacts')
export const SCREENSHOTS_DIR = join(ARTIFACTS_DIR, 'screenshots')

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_FLAGS], timeout: 60_000 })
}

export const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } }
export const PHONE: BrowserContextOptions = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }

/** A page plus what went wrong in it, for failure messages and the report. */
export interface WatchedPage {
  page: Page
  name: string
  /** console.error lines, uncaught exceptions, failed requests, HTTP errors. */
  problems: string[]
  /** Every media-ish request (.m3u8, .ts, .m4s, .mp4) with the resource type Chromium gave it. */
  media: Array<{ url: string; type: string }>
  /** Every script requested (scripts and module preloads), in order. */
  scripts: string[]
}

export async function openPage(context: BrowserContext, name: string): Promise<WatchedPage> {
  const page = await context.newPage()
  const watched: WatchedPage = { page, name, problems: [], media: [], scripts: [] }
  page.on('console', (m) => {
    // "Failed to load resource" names no URL: the response listener below reports those.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) watched.problems.push(`console.error: ${m.text()}`)
  })
  page.on('response', (r) => {
    if (r.status() >= 400) watched.problems.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`)
  })
  page.on('pageerror', (err) => watched.problems.push(`uncaught: ${err.message}`))
  page.on('requestfailed', (r) => {
    // Aborted media requests are normal (hls.js cancels on quality switches and on close).
    if (!/\.(ts|m4s|m3u8)(\?|$)/.test(r.url())) watched.problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`)
  })
  page.on('request', (r) => {
    if (/\.(m3u8|ts|m4s|mp4)(\?|$)/.test(r.url())) watched.media.push({ url: r.url(), type: r.resourceType() })
    // modulepreload links count too: they are part of what the page loads before first paint.
    if (r.resourceType() === 'script' || /\.m?js(\?|$)/.test(r.url())) watched.scripts.push(r.url())
  })
  return watched
}

/** Problems seen so far, as one line for an assertion message. */
export const describeProblems = (p: WatchedPage): string => (p.problems.length ? `; page problems: ${p.problems.slice(-8).join(' | ')}` : '')

/** Full-page screenshot at test-artifacts/screenshots/<name>.png; returns the path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS_DIR, { recursive: true })
  const path = join(SCREENSHOTS_DIR, `${name}.png`)
  // From the top: a sticky header would otherwise be drawn where the last click scrolled to.
  await page.evaluate(() => window.scrollTo(0, 0))
  await page.screenshot({ path, fullPage: true, timeout: 20_000 })
  return path
}

/** Best effort: a screenshot and the page's problems when a step failed, named after the step. */
export async function keepEvidence(p: WatchedPage, step: string): Promise<void> {
  const base = `FAILED-${step}-${p.name}`.replace(/[^A-Za-z0-9_.-]+/g, '-')
  try {
    await screenshot(p.page, base)
    await mkdir(SCREENSHOTS_DIR, { recursive: true })
    await writeFile(join(SCREENSHOTS_DIR, `${base}.txt`), [`url: ${p.page.url()}`, ...p.problems].join('\n'))
  } catch (err) {
    console.error(`could not keep evidence for ${base}: ${(err as Error).message}`)
  }
}
