/**
 * MQTT 5 allows only some reason codes in each acknowledgement (MQTT 5.0
 * 3.4.2.1, 3.5.2.1, 3.9.3, 3.11.3). Errors map through one table
 * (gateway/error-map.ts) whose codes suit DISCONNECT; this narrows a code to
 * what the packet may carry, falling back to 0x80 Unspecified error (the
 * reason string carries the detail).
 */
import { mqttReasonOf } from '../error-map.js'
import { isFerryError } from '../../common/errors.js'

const PUBACK_PUBREC = new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99])
const SUBACK = new Set([0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2])
const UNSUBACK = new Set([0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91])

export type AckKind = 'puback' | 'suback' | 'unsuback'

const ALLOWED: Record<AckKind, ReadonlySet<number>> = { puback: PUBACK_PUBREC, suback: SUBACK, unsuback: UNSUBACK }

/** Reason code for an error in a PUBACK/PUBREC, SUBACK or UNSUBACK. */
export function ackReasonOf (kind: AckKind, err: unknown): number {
  const code = mqttReasonOf(err)
  return ALLOWED[kind].has(code) ? code : 0x80
}

/** Reason String property (v5) explaining an error: the FerryError code and message. */
export function reasonStringOf (err: unknown): string {
  return isFerryError(err) ? `${err.code}: ${err.message}` : 'internal error'
}
