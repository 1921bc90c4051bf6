/**
 * Inbound QoS 2 packet identifiers of one session: exactly once for the
 * client's publishes [MQTT-4.3.3-10]. An identifier is
 *  - `storing` while the PUBLISH's append is in flight: a resend of it (on a
 *    new connection after a reconnect or takeover) waits for that append
 *    instead of storing the message again;
 *  - `received` once the message is stored, until PUBREL: a resend only gets
 *    PUBREC again;
 *  - free after PUBCOMP [MQTT-4.3.3-12], or after a failed PUBREC
 *    [MQTT-4.3.3-9].
 * The session lives across reconnects and takeovers, so does this state.
 */

export const Qos2State = { storing: 'storing', received: 'received' } as const
export type Qos2State = typeof Qos2State[keyof typeof Qos2State]

export class InboundQos2 {
  // Made on first use: most connections (idle ones above all) never need it, and an empty Set is ~170 B.
  private lazy_received: Set<number> | undefined
  private get received (): Set<number> { return (this.lazy_received ??= new Set<number>()) }
  /** Appends in flight: resolve true when the message was stored, false when the store refused it. */
  // Made on first use: most connections (idle ones above all) never need it, and an empty Map is ~170 B.
  private lazy_storing: Map<number, Promise<boolean>> | undefined
  private get storing (): Map<number, Promise<boolean>> { return (this.lazy_storing ??= new Map<number, Promise<boolean>>()) }
  /** Identifiers in use (storing or received): they count against our Receive Maximum. */
  get size (): number { return (this.lazy_received?.size ?? 0) + (this.lazy_storing?.size ?? 0) }

  stateOf (id: number): Qos2State | undefined {
    if (this.lazy_received?.has(id) === true) return Qos2State.received
    if (this.lazy_storing?.has(id) === true) return Qos2State.storing
    return undefined
  }

  /** The append of `id` is in flight; `stored` resolves true once the message is durable. */
  begin (id: number, stored: Promise<boolean>): void {
    this.storing.set(id, stored)
    void stored.then((ok) => {
      if (this.storing.get(id) !== stored) return
      this.storing.delete(id)
      if (ok) this.received.add(id)
    })
  }

  /** The append in flight for `id`, if any. */
  whenStored (id: number): Promise<boolean> | undefined { return this.lazy_storing?.get(id) }

  /** Restored from the ledger after a restart: stored, awaiting PUBREL. */
  restore (id: number): void { this.received.add(id) }

  /** PUBREL: forget the identifier. False when it was not in use. */
  release (id: number): boolean { return this.lazy_received?.delete(id) ?? false }

  /** Identifiers stored and awaiting PUBREL (to delete their records when the session ends). */
  receivedIds (): number[] { return [...this.received] }

  clear (): void {
    this.received.clear()
    this.storing.clear()
  }
}
