/**
 * Public and internal types of the MQTT front end. Transports (TCP/TLS,
 * WebSocket) implement `Transport`; everything above it is shared.
 */
import type { Logger } from '../../common/log.js'
import type { Ledger } from '../../store/index.js'
import type { Dispatcher } from '../dispatch/index.js'
import type { PolicyRegistry } from '../policy/index.js'
import type { MqttLimits } from './constants.js'
import type { ConnectionHandle } from './core.js'
import type { MetaSealer } from '../codec/index.js'

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
  // Credentials the transport saw (gateway/auth reads them in the authenticate hook).
  /** Client certificate of a TLS connection (mutual TLS); undefined when none was sent. */
  peerCertificate?: () => PeerCertificateInfo | undefined
  /** `Authorization: Bearer` token of the WebSocket upgrade request, if any. */
  readonly bearerToken?: string
}

/** A client certificate as a TLS transport reports it (verified against the listener's `ca`). */
export interface PeerCertificateInfo { authorized: boolean, serial: string, subjectCN: string | undefined, subjectOU: string | undefined, validToMs: number }

/** What a transport calls into; implemented by Connection. */
export interface TransportEvents {
  onData (bytes: Buffer): void
  onDrain (): void
  /** The socket is gone (either side closed it, or an error). Called once. */
  onClose (error?: Error): void
  /** The transport cannot hold more while reading is paused (WebSocket): close with a reason. */
  onOverflow (): void
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
  /** What the authenticate hook granted (gateway/auth); undefined in dev mode. */
  grant?: ClientGrant
}

/** Per-connection rights from the authenticate hook (gateway/auth). */
export interface ClientGrant {
  /** 0 when the client may publish to this local topic name, else an MQTT 5 reason code (0x87). */
  authorizePublish (localTopic: string): number
  /** Sessions are keyed by `sessionScope|clientId` when set (the tenant): one tenant's client id never takes over another's session. */
  readonly sessionScope?: string
  /** The connection closed: release what the grant holds (quota slot, revocation watch). Called once. */
  release (): void
}

export interface AuthenticateInput {
  clientId: string
  username: string | undefined
  password: Buffer | undefined
  remoteAddress: string
  transport: string
  peerCertificate?: PeerCertificateInfo
  bearerToken?: string
  /** The connection, so a grant can close it later (revocation: v5 DISCONNECT 0x87). */
  connection?: ConnectionHandle
}

/**
 * The namespace to bind the client to (and its grant), `{ refuse }` with an
 * MQTT 5 CONNACK reason (0x86 bad credentials, 0x87 not authorized, 0x97
 * quota; 3.1.1 gets rc 4, 5 or 3), or undefined to refuse with 0x87 / rc 5.
 */
export type Authenticate = (input: AuthenticateInput) => Promise<{ namespace: string, grant?: ClientGrant } | { refuse: number } | undefined>
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
  /**
   * Failover steering hook (gateway/topology-hook.ts): the Server Reference to send a client of this namespace
   * and transport to another site with (v5 reason 0x9C Use Another Server), or undefined to serve it here.
   */
  steer?: (client: { namespace: string, transport: string }) => string | undefined
  /** Encryption at rest of retained copies and session records per namespace policy (gateway/auth); default: stored as they are. */
  metaSealer?: MetaSealer
}

export interface MqttStats {
  connections: number
  sessions: number
  /** Connection closes by reason (CloseReason values). */
  closes: Record<string, number>
  /** Retained-message updates that failed after their publish was stored (the publish was still acknowledged). */
  retainedUpdateFailures: number
  /** Times a publisher's reads were paused because a memory-durability topic's slowest subscriber was too far behind. */
  pacedReads: number
}

/** A connected client, for the admin API. */
export interface MqttClientInfo {
  clientId: string
  username: string | undefined
  namespace: string
  protocolVersion: 3 | 4 | 5
  transport: string
  remoteAddress: string
  subscriptions: number
  persistentSession: boolean
}

/** A session (live or kept for a disconnected persistent client), for the admin API. */
export interface MqttSessionInfo {
  clientId: string
  namespace: string
  expirySec: number
  connected: boolean
  subscriptions: Array<{ filter: string, qos: 0 | 1 | 2 }>
}

export interface MqttFrontEnd {
  readonly limits: Readonly<MqttLimits>
  /** Admin views and kick (gateway/ops); see admin.ts. */
  clients (): MqttClientInfo[]
  sessionList (): MqttSessionInfo[]
  kick (clientId: string): boolean
  /** Attach a new transport (used by the listeners). */
  accept (transport: Transport): TransportEvents
  stats (): MqttStats
  /** Close every connection (v5: DISCONNECT 0x8B Server shutting down); no wills are published. Idempotent. */
  shutdown (): void
  /** Failover: close each connected client the steer hook sends elsewhere (v5: DISCONNECT 0x9C + Server Reference; 3.1.1: plain close). Returns how many. */
  steerAway (): number
  /** shutdown(), then detach every session and wait for their state to be written. */
  close (): Promise<void>
}

export interface MqttListener {
  port: number
  /** TLS listeners: replace the certificate (rotation without restart). */
  setTls?: (tls: { cert: Buffer, key: Buffer, ca?: Buffer }) => void
  close (): Promise<void>
}
