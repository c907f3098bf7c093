import { createContext } from 'preact'
import { useContext } from 'preact/hooks'
import type { AppState } from '../state/app.ts'

export const AppContext = createContext<AppState | undefined>(undefined)

export function useApp(): AppState {
  const app = useContext(AppContext)
  if (!app) throw new Error('useApp outside <AppContext.Provider>')
  return app
}
