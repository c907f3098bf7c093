import { render } from 'preact'
import { App } from './app.tsx'
import { AppContext } from './components/context.ts'
import { createAppState } from './state/app.ts'
import { bindRouterToWindow } from './state/router.ts'
import type { Nip07 } from './state/session.ts'
import { createMemoryStorage } from './state/settings.ts'
import type { KeyValueStorage } from './state/settings.ts'

function browserStorage(): KeyValueStorage {
  try {
    localStorage.setItem('relaycast.probe', '1')
    localStorage.removeItem('relaycast.probe')
    return localStorage
  } catch {
    return createMemoryStorage() // private mode or storage disabled: settings last for this tab
  }
}

const app = createAppState({
  storage: browserStorage(),
  location: window.location,
  history: window.history,
  nostr: () => (window as unknown as { nostr?: Nip07 }).nostr,
})
bindRouterToWindow(app.router, window)

render(
  <AppContext.Provider value={app}>
    <App />
  </AppContext.Provider>,
  document.getElementById('app')!,
)
