/**
 * Limits of authentication, authorization, quotas and CORS. Each has its unit
 * in the name and a sentence saying why.
 */

/** Addresses tracked by the failure throttle: bounded so a spray of source addresses cannot grow memory; the oldest entry goes first. */
export const AUTH_FAILURE_TABLE_ENTRIES_MAX = 10_000
/** Failures from one address before its refusals are slowed down: a few typos pass at full speed. */
export const AUTH_FAILURES_BEFORE_DELAY = 3
/** Delay added to a refusal per failure past the threshold, ms; capped by AUTH_FAILURE_DELAY_MS_MAX. */
export const AUTH_FAILURE_DELAY_STEP_MS = 250
/** Longest delay of one refusal, ms: enough to make guessing slow, short enough not to pin sockets for long. */
export const AUTH_FAILURE_DELAY_MS_MAX = 2000
/** Failures from one address before it is refused outright for AUTH_BLOCK_MS. */
export const AUTH_FAILURES_BEFORE_BLOCK = 10
/** How long a blocked address is refused, ms. */
export const AUTH_BLOCK_MS = 60_000
/** Failures older than this are forgotten, ms: an address that behaves gets a clean slate. */
export const AUTH_FAILURE_WINDOW_MS = 10 * 60_000
/** Verified tokens cached (token string → claims): HTTP clients send the same token on every request; bounded, oldest out. */
export const TOKEN_CACHE_ENTRIES_MAX = 10_000
/** Open connections tracked per credential for live revocation; beyond it new connections with that credential are refused. */
export const CONNECTIONS_PER_CREDENTIAL_MAX = 100_000
/** How often namespace storage use is recomputed from the ledger for the storage quota, ms. */
export const STORAGE_USAGE_REFRESH_MS = 1000
/** CORS preflight cache lifetime sent to browsers (Access-Control-Max-Age), seconds. */
export const CORS_MAX_AGE_SEC = 600
/** Most allowed CORS origins in a site config: origin checks are a linear scan. */
export const CORS_ORIGINS_MAX = 256
/** Rate buckets kept (tenants + namespaces): bounded like every table keyed by client input. */
export const QUOTA_BUCKETS_MAX = 100_000
/**
 * Quiet time after a change of the site certificate or key file before it is reloaded, ms: the two files are
 * replaced one after the other, and a reload in between would find them mismatched (then wait for the next change).
 */
export const TLS_RELOAD_DEBOUNCE_MS = 300
