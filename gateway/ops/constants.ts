/**
 * Limits of gateway/ops (metrics, admin API, console, prober). Each bound has
 * its unit in the name and a sentence of why.
 */

/** Largest admin request body, bytes: policies and admin commands are small JSON documents. */
export const ADMIN_BODY_BYTES_MAX = 1024 * 1024
/** Most messages one peek returns: a peek is for looking, not for bulk export. */
export const PEEK_MESSAGES_MAX = 100
/** Default messages of a peek. */
export const PEEK_MESSAGES_DEFAULT = 10
/** Payload bytes shown per peeked message; longer payloads are cut (and flagged) so a peek reply stays small. */
export const PEEK_PAYLOAD_BYTES_MAX = 4096
/** Dead letters replayed per request: one request's fsync waits stay bounded; the CLI loops with progress. */
export const REPLAY_MESSAGES_PER_REQUEST_MAX = 1000
/** Unacknowledged entries walked per skip request: bounds the work of one call on a huge backlog. */
export const SKIP_MESSAGES_PER_REQUEST_MAX = 100_000
/** Topics listed per request: a namespace may hold a million topics. */
export const TOPICS_LISTED_MAX = 1000
/** Topics visited per event-loop turn when metrics or listings scan the ledger's topics: no long stall. */
export const TOPIC_SCAN_SLICE = 10_000
/** Rate samples kept (one per topic shown in the admin API or console): bounds memory of the rate tracker. */
export const RATE_SAMPLES_MAX = 10_000
/** Per-topic metric series exported at most (namespaces that opted in): a cap if an opt-in namespace grows huge. */
export const TOPIC_SERIES_MAX = 10_000
/** Steps of a binary search over publish times (reset to a time): 2^48 entries is more than any topic holds. */
export const TIME_SEARCH_STEPS_MAX = 48
/** Live feed push interval, ms: one snapshot per second is what the console charts plot. */
export const LIVE_INTERVAL_MS = 1000
/** Live feed subscribers per gateway: each costs one snapshot send per interval. */
export const LIVE_CLIENTS_MAX = 64
/** Bytes buffered towards one live client before it is dropped (a stalled browser tab must not pin memory). */
export const LIVE_BACKPRESSURE_BYTES_MAX = 1024 * 1024
/** Graceful shutdown: longest wait for in-flight publishes to be acknowledged, ms; beyond it the close goes on. */
export const SHUTDOWN_DRAIN_MS_MAX = 10_000
/** Prober: how often the probe message is published, ms. */
export const PROBE_INTERVAL_MS = 5000
/** Prober: a probe not received back within this long counts as failed, ms. */
export const PROBE_TIMEOUT_MS = 10_000
/** Prober namespace: system traffic kept apart from tenants (memory durability: probes need no disk). */
export const PROBE_NAMESPACE = 'ferry/probe'
/** Largest console file served, bytes: the bundle is a few hundred KB; anything larger is a mistake. */
export const CONSOLE_FILE_BYTES_MAX = 8 * 1024 * 1024
/** Producers kept per topic (admin API, console): a topic with thousands of MQTT publishers lists the most recent ones and counts the rest as dropped. */
export const PRODUCERS_PER_TOPIC_MAX = 32
/** Topics whose producers are tracked at once: records made at start and reused (producers.ts), so memory is bounded whatever the topic count (about 32 entries each at most). */
export const PRODUCER_TOPICS_MAX = 10_000
/** A producer counts as currently publishing while seen within this long, ms. */
export const PRODUCER_ACTIVE_MS = 5 * 60_000
/** Window of a producer's rate, ms: its messages per second over the last full window. */
export const PRODUCER_RATE_WINDOW_MS = 10_000
/** Remote sites whose replicated probes are measured at most (one histogram each): more sites than any network has. */
export const PROBE_REMOTE_SITES_MAX = 64
