/**
 * All sessions of the front end, by client id: takeover, clean start,
 * expiry, and persistence. A persistent session's record (namespace, expiry,
 * subscriptions, when it was last disconnected) lives in ledger meta space
 * `mqtt-session`, key = client id; its queued messages are the dispatcher's
 * durable cursors of its subscriptions, so a restart loses neither.
 * In a namespace with `encryptAtRest` the record is sealed (MqttDeps.metaSealer);
 * the key (client id) stays plain. A record that does not open (its at-rest key
 * is missing) is not restored: logged, and left in the ledger for when the key returns.
 */
import type { MetaValue } from '../../store/index.js'
import { META_SPACE_QOS2_IN, META_SPACE_SESSIONS } from './constants.js'
import { CloseReason } from './errors.js'
import { Session, parseQos2Key, type StoredSubscription } from './session.js'
import { parseSubscriptionFilter } from './topics.js'
import type { ConnectionHandle, FrontEndCore } from './core.js'

interface StoredSession {
  v: 1
  namespace: string
  expirySec: number
  /** Epoch ms of the last disconnect; null while connected. */
  disconnectedAtMs: number | null
  subs: StoredSubscription[]
}

function isStoredSession (v: MetaValue | undefined): v is MetaValue & StoredSession {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) &&
    (v as { v?: unknown }).v === 1 && Array.isArray((v as { subs?: unknown }).subs)
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>()
  private readonly owners = new Map<string, ConnectionHandle>()
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>()
  /** Sessions being torn down: a new session of the same client waits, so old unsubscribes never hit new subscriptions. */
  private readonly ending = new Map<string, Promise<void>>()

  constructor (private readonly core: FrontEndCore) {}

  size (): number { return this.sessions.size }

  /** Every session, connected or not (admin views). */
  all (): Session[] { return [...this.sessions.values()] }

  get (clientId: string): Session | undefined { return this.sessions.get(clientId) }

  /** Restore persistent sessions after a restart; end those that expired while the gateway was down. */
  load (): void {
    const now = Date.now()
    for (const [clientId, raw] of this.core.deps.ledger.metaEntries(META_SPACE_SESSIONS)) {
      const v = this.open(clientId, raw)
      if (!isStoredSession(v)) continue
      const s = new Session(this.core, clientId, v.namespace, v.expirySec)
      for (const sub of v.subs) {
        const parsed = parseSubscriptionFilter(sub.raw)
        if (parsed !== undefined) s.restore(parsed, sub)
      }
      this.sessions.set(clientId, s)
      const disconnectedAt = v.disconnectedAtMs ?? now
      this.scheduleExpiry(s, Math.max(0, disconnectedAt + v.expirySec * 1000 - now))
    }
    // Inbound QoS 2 ids stored with their messages and not yet released: a resend gets PUBREC, not a second copy.
    const ledger = this.core.deps.ledger
    for (const [key] of [...ledger.metaEntries(META_SPACE_QOS2_IN)]) {
      const k = parseQos2Key(key)
      const s = k === undefined ? undefined : this.sessions.get(k.clientId)
      if (k !== undefined && s !== undefined) { s.inboundQos2.restore(k.packetId); continue }
      // The session is gone (it ended, or never was persistent): nobody can release this id.
      ledger.putMeta(META_SPACE_QOS2_IN, key, undefined).catch((err: unknown) => {
        this.core.logger.warn({ err, key }, 'deleting an orphaned inbound QoS 2 id failed')
      })
    }
  }

  /**
   * A connection of `clientId` authenticated: take its session. An existing
   * connection is closed (0x8E Session taken over [MQTT-3.1.4-3]); clean start
   * discards the old session [MQTT-3.1.2-4].
   */
  async take (clientId: string, namespace: string, cleanStart: boolean, expirySec: number, owner: ConnectionHandle): Promise<{ session: Session, present: boolean }> {
    const prev = this.owners.get(clientId)
    if (prev !== undefined && prev !== owner) prev.close(CloseReason.sessionTakenOver)
    this.cancelExpiry(clientId)
    this.core.wills.cancel(clientId)
    await this.ending.get(clientId)

    let existing = this.sessions.get(clientId)
    if (existing !== undefined && (cleanStart || existing.namespace !== namespace)) {
      this.sessions.delete(clientId)
      await this.end(existing)
      existing = undefined
    }
    const session = existing ?? new Session(this.core, clientId, namespace, expirySec)
    session.expirySec = expirySec
    this.sessions.set(clientId, session)
    this.owners.set(clientId, owner)
    await session.serial(async () => { await this.persist(session, null) })
    return { session, present: existing !== undefined }
  }

  /** The owner's connection ended: detach, then end or keep (and start the expiry clock). */
  release (clientId: string, owner: ConnectionHandle, session: Session): void {
    if (this.owners.get(clientId) !== owner) return
    this.owners.delete(clientId)
    if (!session.persistent) {
      this.sessions.delete(clientId)
      void this.end(session)
      return
    }
    void session.serial(async () => {
      await session.detach()
      await this.persist(session, Date.now())
    }).catch((err: unknown) => { this.core.logger.warn({ err, clientId }, 'detaching a session failed') })
    this.scheduleExpiry(session, session.expirySec * 1000)
  }

  /**
   * Write the session record, or remove it when the session has no state in
   * the ledger. `extra`: subscriptions about to be created, recorded first.
   * A session that has durable subscriptions keeps its record even with a
   * Session Expiry of 0 (it ends when its connection does): a restart then
   * ends it and deletes them, instead of orphaning them.
   */
  async persist (session: Session, disconnectedAtMs: number | null, extra: StoredSubscription[] = []): Promise<void> {
    const ledger = this.core.deps.ledger
    if (!session.recorded && extra.length === 0) {
      if (ledger.getMeta(META_SPACE_SESSIONS, session.clientId) !== undefined) await ledger.putMeta(META_SPACE_SESSIONS, session.clientId, undefined)
      return
    }
    const rec: StoredSession = { v: 1, namespace: session.namespace, expirySec: session.expirySec, disconnectedAtMs, subs: [...session.stored(), ...extra] }
    const value = rec as unknown as MetaValue
    await ledger.putMeta(META_SPACE_SESSIONS, session.clientId, this.core.deps.metaSealer?.seal(session.namespace, value) ?? value)
  }

  /** A stored record, opened when sealed; undefined (logged) when its at-rest key is missing or wrong. */
  private open (clientId: string, raw: MetaValue): MetaValue | undefined {
    const sealer = this.core.deps.metaSealer
    if (sealer === undefined) return raw
    try {
      return sealer.open(raw)
    } catch (err) {
      this.core.logger.error({ err, clientId }, 'MQTT session record does not open (at-rest key missing or wrong): session not restored')
      return undefined
    }
  }

  private end (session: Session): Promise<void> {
    const clientId = session.clientId
    const p = session.serial(async () => {
      await session.destroy()
      if (this.sessions.get(clientId) === undefined) await this.core.deps.ledger.putMeta(META_SPACE_SESSIONS, clientId, undefined)
    }).catch((err: unknown) => { this.core.logger.warn({ err, clientId }, 'ending a session failed') })
      .finally(() => { if (this.ending.get(clientId) === p) this.ending.delete(clientId) })
    this.ending.set(clientId, p)
    return p
  }

  private scheduleExpiry (session: Session, afterMs: number): void {
    this.cancelExpiry(session.clientId)
    const t = setTimeout(() => {
      this.expiryTimers.delete(session.clientId)
      if (this.owners.has(session.clientId) || this.sessions.get(session.clientId) !== session) return
      this.sessions.delete(session.clientId)
      void this.end(session)
    }, Math.min(afterMs, 2 ** 31 - 1))
    t.unref()
    this.expiryTimers.set(session.clientId, t)
  }

  private cancelExpiry (clientId: string): void {
    const t = this.expiryTimers.get(clientId)
    if (t !== undefined) { clearTimeout(t); this.expiryTimers.delete(clientId) }
  }

  /** Gateway shutdown: stop timers and detach every session (persistent ones stay in the ledger). */
  async close (): Promise<void> {
    for (const t of this.expiryTimers.values()) clearTimeout(t)
    this.expiryTimers.clear()
    await Promise.all([...this.ending.values()])
    await Promise.all([...this.sessions.values()].map(async (s) => {
      await s.serial(async () => { await s.detach() }).catch(() => undefined)
    }))
  }
}
