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
  private readonly received = new Set<number>()
  /** Appends in flight: resolve true when the message was stored, false when the store refused it. */
  private readonly storing = new Map<number, Promise<boolean>>()

  /** Identifiers in use (storing or received): they count against our Receive Maximum. */
  get size (): number { return this.received.size + this.storing.size }

  stateOf (id: number): Qos2State | undefined {
    if (this.received.has(id)) return Qos2State.received
    if (this.storing.has(id)) return Qos2State.storing
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
  whenStored (id: number): Promise<boolean> | undefined { return this.storing.get(id) }

  /** Restored from the ledger after a restart: stored, awaiting PUBREL. */
  restore (id: number): void { this.received.add(id) }

  /** PUBREL: forget the identifier. False when it was not in use. */
  release (id: number): boolean { return this.received.delete(id) }

  /** Identifiers stored and awaiting PUBREL (to delete their records when the session ends). */
  receivedIds (): number[] { return [...this.received] }

  clear (): void {
    this.received.clear()
    this.storing.clear()
  }
}
