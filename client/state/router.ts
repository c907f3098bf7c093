import { computed, signal } from '@preact/signals'
import type { ReadonlySignal, Signal } from '@preact/signals'
import { getNaddr } from '../../protocol/coordinate.ts'
import type { DecodedNaddr } from '../../protocol/coordinate.ts'
import { KIND_LIVE_EVENT } from '../../protocol/kinds.ts'

/** Path-based routes: `/` discover, `/<naddr>` watch, `/go-live`, `/settings`. */
export type Route =
  | { name: 'discover' }
  | { name: 'watch'; naddr: string; target: DecodedNaddr }
  | { name: 'go-live' }
  | { name: 'settings' }
  | { name: 'not-found'; path: string }

export function parseRoute(path: string): Route {
  const clean = decodeURIComponent(path.replace(/\/+$/, '') || '/')
  if (clean === '/') return { name: 'discover' }
  if (clean === '/go-live') return { name: 'go-live' }
  if (clean === '/settings') return { name: 'settings' }
  const naddr = clean.slice(1).replace(/^nostr:/, '')
  if (naddr.startsWith('naddr1')) {
    const target = getNaddr(naddr)
    if (target && target.coordinate.kind === KIND_LIVE_EVENT) return { name: 'watch', naddr, target }
  }
  return { name: 'not-found', path: clean }
}

export interface Router {
  path: Signal<string>
  route: ReadonlySignal<Route>
  navigate(path: string, opts?: { replace?: boolean }): void
}

export interface HistoryLike {
  pushState(data: unknown, unused: string, url: string): void
  replaceState(data: unknown, unused: string, url: string): void
}

export function createRouter(initialPath: string, history?: HistoryLike): Router {
  const path = signal(initialPath)
  const route = computed(() => parseRoute(path.value))
  return {
    path,
    route,
    navigate(to, opts = {}) {
      if (to === path.value) return
      if (opts.replace) history?.replaceState(null, '', to)
      else history?.pushState(null, '', to)
      path.value = to
    },
  }
}

/** Wires browser back/forward and same-origin link clicks to the router. Returns the cleanup. */
export function bindRouterToWindow(router: Router, win: Window): () => void {
  const onPop = (): void => {
    router.path.value = win.location.pathname
  }
  const onClick = (ev: MouseEvent): void => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return
    const a = (ev.target as Element | null)?.closest?.('a')
    if (!a || a.target === '_blank' || a.hasAttribute('download')) return
    const url = new URL(a.href, win.location.href)
    if (url.origin !== win.location.origin || /\.[a-z0-9]+$/i.test(url.pathname)) return
    ev.preventDefault()
    router.navigate(url.pathname)
    win.scrollTo(0, 0)
  }
  win.addEventListener('popstate', onPop)
  win.document.addEventListener('click', onClick)
  return () => {
    win.removeEventListener('popstate', onPop)
    win.document.removeEventListener('click', onClick)
  }
}
