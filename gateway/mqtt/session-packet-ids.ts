/**
 * Outbound packet identifiers of one session and what each one is waiting
 * for. An identifier is in use from the PUBLISH until PUBACK (QoS 1) or
 * PUBCOMP (QoS 2) [MQTT-2.2.1-3]; a QoS 2 identifier awaiting PUBCOMP
 * survives a reconnect (PUBREL is resent) [MQTT-4.4.0-1].
 */
import type { Consumer } from '../dispatch/index.js'
import type { EntryId, TopicName } from '../../store/index.js'
import { PACKET_ID_MAX } from './constants.js'
import type { SubscriptionState } from './session-subscriptions.js'

/** Shared, never written: what a session without identifiers in use iterates. */
const NO_IDS: ReadonlyMap<number, Inflight> = new Map()

export const InflightState = {
  /** PUBLISH sent, waiting for PUBACK / PUBREC. */
  awaitAck: 'awaitAck',
  /** PUBREC received and PUBREL sent, waiting for PUBCOMP. */
  awaitComp: 'awaitComp'
} as const
export type InflightState = typeof InflightState[keyof typeof InflightState]

export interface Inflight {
  qos: 1 | 2
  state: InflightState
  /** Consumer and subscription to settle with; undefined for a retained copy (nothing to ack). */
  consumer: Promise<Consumer> | undefined
  sub: SubscriptionState | undefined
  topic: TopicName
  entryId: EntryId
}

export class PacketIds {
  // Made on first use: most connections (idle ones above all) never need it, and an empty Map is ~170 B.
  private lazy_inUse: Map<number, Inflight> | undefined
  private get inUse (): Map<number, Inflight> { return (this.lazy_inUse ??= new Map<number, Inflight>()) }
  private next = 1

  get size (): number { return this.lazy_inUse?.size ?? 0 }
  get (id: number): Inflight | undefined { return this.lazy_inUse?.get(id) }
  set (id: number, f: Inflight): void { this.inUse.set(id, f) }
  delete (id: number): void { this.lazy_inUse?.delete(id) }
  entries (): IterableIterator<[number, Inflight]> { return (this.lazy_inUse ?? NO_IDS).entries() }
  clear (): void { this.lazy_inUse?.clear() }

  /** A free identifier, round robin; undefined when all 65535 are in use. */
  alloc (): number | undefined {
    for (let i = 0; i < PACKET_ID_MAX; i++) {
      const id = this.next
      this.next = id === PACKET_ID_MAX ? 1 : id + 1
      if (!this.inUse.has(id)) return id
    }
    return undefined
  }

  /** The connection went away: what was only sent (not PUBREC'd) comes again from the dispatcher. */
  dropUnacknowledged (): void {
    for (const [id, f] of this.inUse) if (f.state === InflightState.awaitAck) this.inUse.delete(id)
  }
}
