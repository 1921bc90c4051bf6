/** At-rest payload codec: compression then AES-256-GCM per namespace policy. */
export { PayloadCodec, CODEC_PROPERTY, isEnveloped, type KeySource, type Encoded } from './codec.js'
export { CodecCode } from './errors.js'
export { CODEC_INLINE_BYTES_MAX, DECODE_QUEUE_ENTRIES_MAX } from './constants.js'
export { AtRestMetaSealer, isSealedMeta, SEALED_FIELD, type MetaSealer } from './meta-sealer.js'
