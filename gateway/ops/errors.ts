/** Codes gateway/ops introduces; their HTTP statuses live in gateway/error-map.ts. */
export const OpsCode = {
  /** The gateway is starting or draining: not ready (503). */
  NOT_READY: 'E_NOT_READY',
  /** DELETE of a namespace that still has subscriptions or stored messages (409). */
  NAMESPACE_NOT_EMPTY: 'E_NAMESPACE_NOT_EMPTY',
  /** A dead-letter topic whose original topic cannot be told (400: name it with ?topic=). */
  DLQ_ORIGIN_UNKNOWN: 'E_DLQ_ORIGIN_UNKNOWN',
  /** Token admin on a gateway without a PKI dir (dev mode without --pki), or one whose PKI dir lacks the signing key (409). */
  TOKENS_UNAVAILABLE: 'E_TOKENS_UNAVAILABLE'
} as const
export type OpsCode = typeof OpsCode[keyof typeof OpsCode]
