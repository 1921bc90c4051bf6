/** Codes of gateway/codec (mapped in gateway/auth/errors.ts with the other security codes). */
export const CodecCode = {
  /** An at-rest key is missing, or a record does not open / decompress. */
  AT_REST_KEY: 'E_AT_REST_KEY'
} as const
