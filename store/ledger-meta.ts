/**
 * The metadata KV kept in the ledger's own log (sessions, subscriptions,
 * policies, retained messages, QoS 2 packet ids: see meta-spaces.ts for who
 * owns which space). A put is a `metaPut`/`metaDelete` record, or rides inside
 * a message record (AppendInput.meta) so both are one CRC-framed record.
 */
import { StoreCode, storeError } from './errors.js'
import { APPEND_META_PUTS_MAX } from './constants.js'
import type { MetaMap } from './ledger-state.js'
import type { MetaPut, MetaValue } from './types.js'

/** Set (or, with undefined, delete) one key. */
export function applyMeta (meta: MetaMap, spaceName: string, key: string, value: MetaValue | undefined): void {
  let space = meta.get(spaceName)
  if (value === undefined) {
    space?.delete(key)
    if (space?.size === 0) meta.delete(spaceName)
    return
  }
  if (space === undefined) { space = new Map(); meta.set(spaceName, space) }
  space.set(key, value)
}

export function getMeta (meta: MetaMap, space: string, key: string): MetaValue | undefined {
  return meta.get(space)?.get(key)
}

export function * metaEntries (meta: MetaMap, space: string): IterableIterator<[string, MetaValue]> {
  const m = meta.get(space)
  if (m !== undefined) yield * m.entries()
}

export function validateMetaKey (space: unknown, key: unknown): void {
  if (typeof space !== 'string' || space.length === 0) throw storeError(StoreCode.BAD_ARGUMENT, 'meta space must be a non-empty string')
  if (typeof key !== 'string') throw storeError(StoreCode.BAD_ARGUMENT, 'meta key must be a string')
}

/** AppendInput.meta: an array of at most APPEND_META_PUTS_MAX well-formed puts. */
export function validateAppendMeta (meta: readonly MetaPut[] | undefined): void {
  if (meta === undefined) return
  if (!Array.isArray(meta)) throw storeError(StoreCode.BAD_ARGUMENT, 'meta must be an array of { space, key, value }')
  if (meta.length > APPEND_META_PUTS_MAX) {
    throw storeError(StoreCode.BAD_ARGUMENT, `an append carries at most ${APPEND_META_PUTS_MAX} meta puts, got ${meta.length}`, { details: { appendMetaPutsMax: APPEND_META_PUTS_MAX } })
  }
  for (const m of meta) validateMetaKey(m.space, m.key)
}
