/**
 * Liveness and readiness. `/healthz` answers while the process serves HTTP
 * (and says when the store is fenced); `/readyz` is 200 only when the ledger
 * is open and accepting appends, every listener is up and the gateway is not
 * draining for shutdown — load balancers take a site out on anything else.
 */
import type { Ledger } from '../../store/index.js'

export const Phase = { starting: 'starting', ready: 'ready', draining: 'draining', closed: 'closed' } as const
export type Phase = typeof Phase[keyof typeof Phase]

export interface Readiness {
  ready: boolean
  phase: Phase
  checks: { ledgerOpen: boolean, ledgerAcceptsAppends: boolean, listenersUp: boolean, prober: 'ok' | 'failing' | 'off' }
}

export class Health {
  phase: Phase = Phase.starting
  listenersUp = false
  ledgerOpen = false
  proberState: () => 'ok' | 'failing' | 'off' = () => 'off'

  constructor (private readonly ledger: Ledger) {}

  readiness (): Readiness {
    const fenced = this.ledgerOpen && this.ledger.stats().fenced
    const checks = { ledgerOpen: this.ledgerOpen, ledgerAcceptsAppends: this.ledgerOpen && !fenced, listenersUp: this.listenersUp, prober: this.proberState() }
    // A failing prober is reported but does not take the site out: it measures, the checks above decide.
    const ready = this.phase === Phase.ready && checks.ledgerAcceptsAppends && checks.listenersUp
    return { ready, phase: this.phase, checks }
  }
}
