/**
 * Liveness and readiness. `/healthz` answers while the process serves HTTP
 * (and says when the store is fenced); `/readyz` is 200 only when the ledger
 * is open and accepting appends, every listener is up and the gateway is not
 * draining for shutdown — load balancers take a site out on anything else.
 *
 * On a network site /readyz also reports etcd and NATS reachability
 * (`etcd`, `nats`: up, down; off on a plain gateway). They do not take the
 * site out: without etcd a site serves and replicates on its last known
 * topology, and without NATS it serves locally and ships the backlog when
 * the link returns; since every site shares etcd, gating on it would turn an
 * etcd outage into an outage of the whole network. `degraded` says either
 * one is down (alerts: FerryEtcdDown, FerryNatsDown).
 */
import type { Ledger } from '../../store/index.js'
import type { NetworkView } from './network.js'

export const Phase = { starting: 'starting', ready: 'ready', draining: 'draining', closed: 'closed' } as const
export type Phase = typeof Phase[keyof typeof Phase]

export interface Readiness {
  ready: boolean
  phase: Phase
  /** A network dependency (etcd, NATS) is down: the site serves, but is cut off from part of the network. */
  degraded: boolean
  checks: { ledgerOpen: boolean, ledgerAcceptsAppends: boolean, listenersUp: boolean, prober: 'ok' | 'failing' | 'off', etcd: Reach, nats: Reach }
}

export type Reach = 'up' | 'down' | 'off'

export class Health {
  phase: Phase = Phase.starting
  listenersUp = false
  ledgerOpen = false
  proberState: () => 'ok' | 'failing' | 'off' = () => 'off'

  constructor (private readonly ledger: Ledger, private readonly network: NetworkView) {}

  readiness (): Readiness {
    const fenced = this.ledgerOpen && this.ledger.stats().fenced
    const net = this.network.status()
    const reach = (up: boolean | undefined): Reach => up === undefined ? 'off' : up ? 'up' : 'down'
    const checks = {
      ledgerOpen: this.ledgerOpen,
      ledgerAcceptsAppends: this.ledgerOpen && !fenced,
      listenersUp: this.listenersUp,
      prober: this.proberState(),
      etcd: reach(net?.etcd.up),
      nats: reach(net?.nats.up)
    }
    // A failing prober is reported but does not take the site out: it measures, the checks above decide.
    const ready = this.phase === Phase.ready && checks.ledgerAcceptsAppends && checks.listenersUp
    return { ready, phase: this.phase, degraded: checks.etcd === 'down' || checks.nats === 'down', checks }
  }
}
