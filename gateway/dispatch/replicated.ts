/**
 * Replicated subscriptions: the dispatcher's side. The replicator
 * (replicator/cursor-sync.ts) lists this site's replicated subscriptions and
 * the topics they span, creates the ones other sites have, and applies the
 * acknowledgements made there. The replicator does not import gateway/: it
 * declares the shape it needs and gateway/server.ts hands this object over.
 */
import type { EntryId, TopicName } from '../../store/index.js'
import type { Subscription } from './subscription.js'
import { SubscriptionMode } from './types.js'

/** A replicated subscription as the replicator sees it. */
export interface ReplicatedSubscriptionInfo {
  namespace: string
  filter: string
  name: string
  mode: string
  /** The subscription's cursor name on every topic it spans (ledger.cursor). */
  cursorName: string
  /** Topics whose cursors exist (materialised) at this site. */
  topics: TopicName[]
}

export interface ReplicatedSubscriptions {
  /** Every durable subscription with replicated on, at this site. */
  list: () => ReplicatedSubscriptionInfo[]
  /**
   * Create the subscription here if absent (durable, replicated), starting at
   * the earliest entry of each topic: the remote site's acknowledgements say
   * what its consumer has done; what they do not cover is delivered (never a loss).
   */
  ensure: (def: { namespace: string, filter: string, name: string, mode: string }) => Promise<void>
  /** Acknowledge ids of one topic on the subscription (its consumer acknowledged them elsewhere). Returns how many were new. */
  ackRemote: (def: { namespace: string, filter: string, name: string }, topic: TopicName, ids: readonly EntryId[]) => Promise<number>
}

/** What this module needs from the dispatcher. */
export interface ReplicatedHost {
  all: () => Iterable<Subscription>
  find: (namespace: string, filter: string, name: string) => Subscription | undefined
  /** Create a durable replicated subscription without a consumer (or turn an existing one replicated). */
  create: (def: { namespace: string, filter: string, name: string, mode: SubscriptionMode }) => Promise<void>
}

const MODES = new Set<string>(Object.values(SubscriptionMode))

export function replicatedSubscriptions (host: ReplicatedHost): ReplicatedSubscriptions {
  return {
    list () {
      const out: ReplicatedSubscriptionInfo[] = []
      for (const s of host.all()) {
        if (!s.replicated || !s.durable || s.deleted) continue
        out.push({ namespace: s.namespace, filter: s.filter, name: s.name, mode: s.mode, cursorName: s.cursorName, topics: [...s.spanned] })
      }
      return out
    },
    async ensure (def) {
      const have = host.find(def.namespace, def.filter, def.name)
      if (have !== undefined && have.replicated) return
      // A mode this version does not know (a newer site): shared, the mode that accepts every ack.
      const mode = MODES.has(def.mode) ? def.mode as SubscriptionMode : SubscriptionMode.shared
      await host.create({ namespace: def.namespace, filter: def.filter, name: def.name, mode })
    },
    async ackRemote (def, topic, ids) {
      const s = host.find(def.namespace, def.filter, def.name)
      if (s === undefined || ids.length === 0) return 0
      return (await s.ack(topic, ids)).acked
    }
  }
}
