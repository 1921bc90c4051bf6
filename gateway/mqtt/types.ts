/**
 * Public and internal types of the MQTT front end. Transports (TCP/TLS,
 * WebSocket) implement `Transport`; everything above it is shared.
 */
import type { Logger } from '../../common/log.js'
import type { Ledger } from '../../store/index.js'
import type { Dispatcher } from '../dispatch/index.js'
import type { PolicyRegistry } from '../policy/index.js'
import type { MqttLimits } from './constants.js'

export type { MqttLimits }

/** What the session layer needs from a byte stream. Only transport-*.ts implement it. */
export interface Transport {
  /** 'tcp' | 'tls' | 'ws' | 'wss', for logs. */
  readonly kind: string
  readonly remoteAddress: string
  /** Queue bytes; returns false when the socket is backed up (wait for onDrain). Never throws. */
  write (bytes: Buffer): boolean
  /** Bytes queued in user space that the kernel has not taken yet. */
  bufferedBytes (): number
  /** Stop delivering received bytes (backpressure on a publisher). */
  pauseReading (): void
  resumeReading (): void
  /** Flush what is queued, then close. Idempotent. */
  end (): void
  /** Close now, dropping what is queued. Idempotent. */
  destroy (): void
}

/** What a transport calls into; implemented by Connection. */
export interface TransportEvents {
  onData (bytes: Buffer): void
  onDrain (): void
  /** The socket is gone (either side closed it, or an error). Called once. */
  onClose (error?: Error): void
}

/** Who a connection is, as seen by hooks (auth, ACL). */
export interface ClientContext {
  clientId: string
  username: string | undefined
  /** `tenant/namespace` the client's topic names live in. */
  namespace: string
  protocolVersion: 3 | 4 | 5
  remoteAddress: string
  transport: string
}

export interface AuthenticateInput {
  clientId: string
  username: string | undefined
  password: Buffer | undefined
  remoteAddress: string
  transport: string
}

/** The namespace to bind the client to, or undefined to refuse it (CONNACK 0x87 / 3.1.1 rc 5). */
export type Authenticate = (input: AuthenticateInput) => Promise<{ namespace: string } | undefined>
/** Decide whether a client may subscribe to a filter (local to its namespace, `$share/...` prefix included). */
export type AuthorizeSubscribe = (client: ClientContext, filter: string) => boolean | Promise<boolean>

export interface MqttDeps {
  dispatcher: Dispatcher
  ledger: Ledger
  policies: PolicyRegistry
  siteId: string
  dev: boolean
  /** Namespace of anonymous clients in dev mode (`public/default`). */
  defaultNamespace: string
  limits?: Partial<MqttLimits>
  logger: Logger
  /** Default: dev mode binds everyone to defaultNamespace; otherwise refuses (real credentials come with pki/). */
  authenticate?: Authenticate
  /** Default: allow. */
  authorizeSubscribe?: AuthorizeSubscribe
}

export interface MqttStats {
  connections: number
  sessions: number
  /** Connection closes by reason (CloseReason values). */
  closes: Record<string, number>
  /** Retained-message updates that failed after their publish was stored (the publish was still acknowledged). */
  retainedUpdateFailures: number
}

export interface MqttFrontEnd {
  readonly limits: Readonly<MqttLimits>
  /** Attach a new transport (used by the listeners). */
  accept (transport: Transport): TransportEvents
  stats (): MqttStats
  /** Close every connection (v5: DISCONNECT 0x8B Server shutting down); no wills are published. Idempotent. */
  shutdown (): void
  /** shutdown(), then detach every session and wait for their state to be written. */
  close (): Promise<void>
}

export interface MqttListener {
  port: number
  close (): Promise<void>
}
