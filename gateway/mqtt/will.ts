/**
 * Will messages: published when a connection ends without a normal
 * DISCONNECT [MQTT-3.1.2-8], after the Will Delay Interval (v5) capped by the
 * session expiry [MQTT-3.1.3-9], unless the client reconnects first.
 */
import type { MessageProps, TopicName } from '../../store/index.js'
import type { FrontEndCore } from './core.js'

export interface WillMessage {
  /** Full topic name. */
  topic: TopicName
  payload: Buffer
  props: MessageProps
  retain: boolean
  /** Will Delay Interval, seconds (0 for 3.1.1). */
  delaySec: number
}

export class WillScheduler {
  private readonly timers = new Map<string, NodeJS.Timeout>()

  constructor (private readonly core: FrontEndCore) {}

  /** The connection of `clientId` ended abnormally: publish now or after the delay. */
  schedule (clientId: string, will: WillMessage, sessionExpirySec: number): void {
    this.cancel(clientId)
    const delaySec = Math.min(will.delaySec, sessionExpirySec)
    if (delaySec <= 0) { this.fire(will, clientId); return }
    const t = setTimeout(() => { this.timers.delete(clientId); this.fire(will, clientId) }, delaySec * 1000)
    t.unref()
    this.timers.set(clientId, t)
  }

  /** The client came back before the delay ran out: no will [MQTT-3.1.3-9]. */
  cancel (clientId: string): void {
    const t = this.timers.get(clientId)
    if (t !== undefined) { clearTimeout(t); this.timers.delete(clientId) }
  }

  close (): void {
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }

  private fire (will: WillMessage, clientId: string): void {
    if (this.core.closing) return
    this.core.publish(will.topic, will.payload, will.props, will.retain, undefined, { name: clientId, protocol: 'mqtt' }).catch((err: unknown) => {
      this.core.logger.warn({ err, topic: will.topic }, 'publishing a will message failed')
    })
  }
}
