import { useEffect } from 'preact/hooks'
import { useApp } from './components/context.ts'
import { Discover } from './components/discover.tsx'
import { Lazy } from './components/lazy.tsx'
import { Nav } from './components/nav.tsx'

/**
 * The router. Discover is in the shell; the watch page (player, chat) and the streamer's pages
 * are chunks loaded on demand, so the first paint of the home page carries only what it shows.
 */
export function App() {
  const { router } = useApp()
  const route = router.route.value
  useEffect(() => {
    document.title = route.name === 'discover' ? 'Relaycast — live now' : route.name === 'go-live' ? 'Go live — Relaycast' : route.name === 'settings' ? 'Settings — Relaycast' : 'Relaycast'
  }, [route.name])
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <Nav />
      <main id="main" tabIndex={-1}>
        {route.name === 'discover' && <Discover />}
        {route.name === 'watch' && <Lazy key={route.naddr} load={() => import('./components/watch-chunk.ts').then((m) => () => <m.Watch target={route.target} />)} />}
        {route.name === 'go-live' && <Lazy load={() => import('./components/go-live.tsx').then((m) => m.GoLive)} />}
        {route.name === 'settings' && <Lazy load={() => import('./components/settings.tsx').then((m) => m.SettingsPage)} />}
        {route.name === 'not-found' && (
          <section class="page empty">
            <h1>Nothing here</h1>
            <p>
              <code>{route.path}</code> is not a stream address. <a href="/">See what is live</a>.
            </p>
          </section>
        )}
      </main>
    </>
  )
}
