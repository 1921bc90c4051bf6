/**
 * Every bound of the MQTT front end, with its unit and why. Values a site may
 * tune live in `MqttLimits` (defaults below); the rest are fixed.
 */
import assert from 'node:assert/strict'
import { MetaSpace } from '../../store/index.js'

export interface MqttLimits {
  /**
   * Largest MQTT packet accepted, bytes (fixed header included). Advertised
   * to v5 clients as Maximum Packet Size; bigger packets close the connection
   * (v5: DISCONNECT 0x95). 1 MiB + headroom matches the default namespace
   * maxMessageBytes so a legal message always fits in a legal packet.
   */
  maxPacketBytes: number
  /**
   * Bytes a connection may hold unparsed or queued for the socket before we
   * stop reading from it (TCP) or close it (WebSocket cannot stop reading).
   * Must hold at least one largest packet.
   */
  maxConnectionBufferBytes: number
  /**
   * Our Receive Maximum (v5): inbound QoS 1/2 publishes a client may have
   * unacknowledged. Only a client beyond it is disconnected (0x93); memory is
   * bounded by reading less (INBOUND_PUBLISHES_PENDING_MAX), not by this.
   */
  receiveMaximum: number
  /** Outbound in-flight QoS 1/2 window for 3.1.1 clients, which cannot tell us theirs. */
  inflightMessagesMax3: number
  /** Topic aliases a v5 client may use towards us (our Topic Alias Maximum). */
  topicAliasMaximum: number
  /** Longest keep alive we accept, seconds; longer (or 0) requests are answered with Server Keep Alive (v5). */
  keepAliveSecMax: number
  /** Time a new connection has to send CONNECT, ms: drops idle half-open sockets. */
  connectTimeoutMs: number
  /** Longest session expiry we honour, seconds; larger requests are capped (v5 reports it in CONNACK). */
  sessionExpirySecMax: number
  /**
   * Memory durability (gateway/dispatch/publish-pacer.ts): a publisher whose reads were paused because the topic's
   * slowest subscriber is too far behind reads on after this long whatever the backlog, ms. A stuck subscriber then
   * slows publishers to one socket read per interval instead of stopping them (and their keep-alive) for good.
   */
  pacedReadHoldMsMax: number
}

export const DEFAULT_MQTT_LIMITS: Readonly<MqttLimits> = Object.freeze({
  maxPacketBytes: 1024 * 1024 + 64 * 1024,
  maxConnectionBufferBytes: 4 * 1024 * 1024,
  // The protocol maximum: stock clients (the mqtt npm client) do not honour a smaller one, and
  // memory does not depend on it (see INBOUND_PUBLISHES_PENDING_MAX), so 0x93 is only for a client far beyond any sane window.
  receiveMaximum: 65535,
  // 3.1.1 has no Receive Maximum, so this is the whole outbound window of a 3.1.1 subscriber.
  // Measured (docs/BENCHMARKS.md, fan-in 4 -> 1): at 32 the subscriber fell behind the publishers and
  // latency grew without bound (p50 1.9 s); at 256 delivery keeps pace (p50 13 ms). Memory stays bounded
  // by the dispatcher's read-ahead and pending-ack limits, as for a v5 client's Receive Maximum.
  inflightMessagesMax3: 256,
  topicAliasMaximum: 64,
  // 18 h: mobile clients use long keep alives; longer ones hide dead connections for too long.
  keepAliveSecMax: 65535,
  connectTimeoutMs: 10_000,
  // 7 days: long enough for a device offline over a weekend, short enough that abandoned sessions go.
  sessionExpirySecMax: 7 * 24 * 3600,
  // Well under the shortest keep-alive grace (1 s x 1.5), so a paused publisher's PINGREQ is read in time.
  pacedReadHoldMsMax: 500
})

/** Keep alive timeout is 1.5 x the keep alive interval [MQTT-3.1.2-24]. */
export const KEEPALIVE_GRACE_FACTOR = 1.5

/** Largest Remaining Length the encoding can express (4 variable-length bytes), bytes. */
export const REMAINING_LENGTH_MAX_BYTES = 268_435_455

/** Packet identifiers are 16-bit and non-zero [MQTT-2.2.1-3]. */
export const PACKET_ID_MAX = 65535

/** Longest client identifier we accept, UTF-8 bytes (spec requires 23 to work; 256 fits UUID-based schemes). */
export const CLIENT_ID_BYTES_MAX = 256

/** Topic filters in one SUBSCRIBE / UNSUBSCRIBE: bounds the work one packet can ask for. */
export const SUBSCRIBE_FILTERS_MAX = 64

/** Subscriptions one session may hold: each one is a dispatcher consumer. */
export const SESSION_SUBSCRIPTIONS_MAX = 256

/** Outbound deliveries a session holds while its in-flight window is full (per session, all subscriptions). */
export const SESSION_PENDING_DELIVERIES_MAX = 4096

/**
 * Inbound publishes (any QoS) awaiting the store before we stop reading from
 * a publisher (TCP pause; WebSocket frames are held): bounds the memory one
 * connection pins while keeping a group commit's batch full. The payload bytes
 * are bounded by maxConnectionBufferBytes the same way.
 */
export const INBOUND_PUBLISHES_PENDING_MAX = 1024

/**
 * Messages of overlapping subscriptions whose other copies the session still
 * expects (to acknowledge them without sending a second copy). Oldest dropped
 * beyond it: then a second copy may go out, which the spec allows.
 */
export const OVERLAP_COPIES_TRACKED_MAX = 4096

/** CONNECT user property by which a v5 client asks for Ferry's delivery metadata (`ferry-message-id`, `ferry-redelivery-count`). */
export const FERRY_METADATA_PROPERTY = 'ferry-metadata'

/**
 * SUBSCRIBE user property (v5) that makes the packet's subscriptions geo-replicated
 * (value `1` or `true`; persistent sessions only): they exist at every site of the
 * namespace and their acknowledgements travel (docs/REPLICATION.md).
 */
export const FERRY_REPLICATED_PROPERTY = 'ferry-replicated'

/** Retained messages sent on one SUBSCRIBE: bounds the burst one filter like `#` can trigger. */
export const RETAINED_PER_SUBSCRIBE_MAX = 10_000

/** Outbound topic aliases we assign when the client allows any (v5). */
export const OUTBOUND_TOPIC_ALIASES_MAX = 64

/** Length of generated client identifiers, characters (`ferry-` + random hex). */
export const ASSIGNED_CLIENT_ID_HEX_CHARS = 16

/** Ledger meta spaces the MQTT front end owns (declared once in store MetaSpace). */
export const META_SPACE_SESSIONS = MetaSpace.mqttSession
export const META_SPACE_RETAINED = MetaSpace.retained
/** Inbound QoS 2 packet ids stored and awaiting PUBREL, key `{clientId}/{packetId}`, written with the message itself. */
export const META_SPACE_QOS2_IN = MetaSpace.mqttQos2In

/** Longest will delay we honour, seconds (capped by the session expiry anyway [MQTT-3.1.3-9]). */
export const WILL_DELAY_SEC_MAX = 24 * 3600

/**
 * Topic names a session keeps, each way: full names for the local names it publishes to
 * (session.ts fullTopic) and local names for the topics delivered to it (session-outbound.ts):
 * clients usually use a few topics, and one string per topic instead of one per message saves
 * a concatenation or a slice per message. Past the bound a map starts again, so a client
 * spraying topics costs at most this many strings each way.
 */
export const SESSION_TOPIC_NAMES_MAX = 64

/**
 * TCP/TLS (transport-tcp.ts): packets written in one tick are gathered into one socket write;
 * once this many bytes are gathered they go at once (one TLS record's worth, 16 KiB), so the
 * copy stays small and a burst is not held back to the end of the tick.
 */
export const TCP_GATHER_BYTES = 16 * 1024

/** How long close() waits for sockets to flush before destroying them, ms. */
export const CLOSE_FLUSH_MS = 1000

export function checkLimits (l: MqttLimits): void {
  assert.ok(Number.isInteger(l.maxPacketBytes) && l.maxPacketBytes >= 128, 'maxPacketBytes >= 128')
  assert.ok(l.maxPacketBytes <= REMAINING_LENGTH_MAX_BYTES, 'maxPacketBytes fits the Remaining Length encoding')
  assert.ok(l.maxConnectionBufferBytes >= l.maxPacketBytes, 'a connection buffer holds at least one largest packet')
  assert.ok(l.receiveMaximum >= 1 && l.receiveMaximum <= 65535, 'receiveMaximum in 1..65535')
  assert.ok(l.inflightMessagesMax3 >= 1 && l.inflightMessagesMax3 <= 65535, 'inflightMessagesMax3 in 1..65535')
  assert.ok(l.topicAliasMaximum >= 0 && l.topicAliasMaximum <= 65535, 'topicAliasMaximum in 0..65535')
  assert.ok(l.keepAliveSecMax >= 1 && l.keepAliveSecMax <= 65535, 'keepAliveSecMax in 1..65535')
  assert.ok(l.connectTimeoutMs >= 1, 'connectTimeoutMs >= 1')
  assert.ok(Number.isInteger(l.pacedReadHoldMsMax) && l.pacedReadHoldMsMax >= 1, 'pacedReadHoldMsMax >= 1')
  assert.ok(l.sessionExpirySecMax >= 0, 'sessionExpirySecMax >= 0')
}

assert.ok(INBOUND_PUBLISHES_PENDING_MAX >= 2, 'reading resumes at half the bound')
checkLimits(DEFAULT_MQTT_LIMITS)
