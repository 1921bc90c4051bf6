/**
 * Limits and defaults of the network PKI. Each has its unit in the name and a
 * sentence saying why.
 */

/** Root CA validity, days: long enough that it is not the thing that breaks a network; rotate sites instead. */
export const CA_VALID_DAYS = 3650
/** Site and client certificate validity, days: a year, the usual rotation cycle. */
export const LEAF_VALID_DAYS = 365
/** Clock skew allowance on notBefore, ms: certificates usable on hosts whose clocks run a little behind. */
export const NOT_BEFORE_SKEW_MS = 5 * 60_000
/** RSA key size, bits: 2048 is the floor every TLS stack accepts and keeps handshakes fast. */
export const RSA_KEY_BITS = 2048
/** Longest token lifetime accepted, seconds (5 years): a token is not a substitute for a certificate. */
export const TOKEN_TTL_SEC_MAX = 5 * 365 * 24 * 3600
/** Clock skew tolerated when checking token expiry, seconds. */
export const TOKEN_CLOCK_SKEW_SEC = 30
/** Longest token accepted, bytes: claims are a few lists; this bounds what a client makes us parse. */
export const TOKEN_BYTES_MAX = 8192
/** Most namespaces / topic patterns in one token: keeps authorization checks cheap and tokens small. */
export const TOKEN_LIST_ENTRIES_MAX = 64
/** Largest issued.json / revoked.json read, bytes: a wrong path (device, log) must not be read whole. */
export const PKI_FILE_BYTES_MAX = 16 * 1024 * 1024
/** Most revocation entries kept: a network revokes rarely; this bounds the in-memory set. */
export const REVOKED_ENTRIES_MAX = 100_000
/** How often a gateway re-reads the revocation list and certificates, ms: revocation must bite within 2 s. */
export const PKI_POLL_INTERVAL_MS = 500
/** Longest site name, characters (node-name rules: a letter, then letters, digits, underscore). */
export const SITE_NAME_CHARS_MAX = 20
/** AES-256-GCM key size, bytes. */
export const AT_REST_KEY_BYTES = 32
/** Most at-rest keys kept in the key file: old keys stay to read old records; rotation is rare. */
export const AT_REST_KEYS_MAX = 1000
