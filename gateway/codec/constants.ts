/** Limits of the at-rest payload codec. */

/** Payloads up to this size are (de)compressed inline: ~tens of µs, cheaper than a threadpool hop. Larger ones go to zlib's threadpool. */
export const CODEC_INLINE_BYTES_MAX = 16 * 1024
/** Brotli quality used at rest: 4 compresses well at deflate-like speed (11, the default, is ~50x slower). */
export const BROTLI_QUALITY = 4
/** Largest decompressed payload accepted, bytes: a record can never legitimately inflate past the largest message (64 MiB policy cap). */
export const DECOMPRESSED_BYTES_MAX = 64 * 1024 * 1024
/** Deliveries waiting for decode per consumer: bounded by the consumer's permits anyway; this is the hard stop. */
export const DECODE_QUEUE_ENTRIES_MAX = 100_000
