/**
 * Revocations through etcd: `/ferry/{network}/revocations/{id}` (keys.ts),
 * id a token id (`tok_...`) or a certificate serial (hex), value
 * `{"id","kind","name","revokedAt"}`. `ferry pki revoke --etcd URL --network N`
 * writes one (putRevocation); every network site follows the prefix
 * (followRevocations: list, then watch from the list's revision + 1, so no
 * revocation between the two is missed) and hands the whole set to its
 * gateway's authenticator, which refuses new connections with a revoked
 * credential and closes the open ones (MQTT 5 DISCONNECT 0x87). The PKI
 * dir's revoked.json is still watched too; the two lists add up. Deleting a
 * key lifts that revocation (an operator's undo).
 *
 * When etcd is unreachable the site keeps the last set it saw and retries
 * the list every ETCD_RETRY_MS; the etcd3 watcher resumes by itself after a
 * disconnect.
 */
import { Etcd3, type Watcher } from 'etcd3'
import type { Logger } from '../common/log.js'
import { FerryError } from '../common/errors.js'
import { ETCD_CALL_TIMEOUT_MS, ETCD_RETRY_MS, REVOCATIONS_IN_ETCD_MAX } from './constants.js'
import { TopologyCode } from './errors.js'
import { Kind, keyOf, networkPrefix } from './keys.js'

/** Where the set goes: gateway/auth's Security.applyRevocations. */
export interface RevocationSink { applyRevocations (source: string, ids: readonly string[]): void }

export interface RevocationRecord { id: string, kind: string, name: string, revokedAt: string }

/** Revocation ids are token ids or hex serials: anything else under the prefix is ignored (and logged). */
const REVOCATION_ID = /^(tok_[A-Za-z0-9_-]{1,64}|[0-9A-Fa-f]{1,40})$/

/** The source name the authenticator keeps this list under (beside the PKI dir's file). */
export const ETCD_REVOCATION_SOURCE = 'etcd'

function prefixOf (network: string): string { return `${networkPrefix(network)}${Kind.revocations}/` }

/** Write one revocation (idempotent: a second write of the same id changes nothing that matters). */
export async function putRevocation (opts: { etcd: string | string[], network: string }, r: RevocationRecord): Promise<void> {
  if (!REVOCATION_ID.test(r.id)) throw new FerryError(TopologyCode.INVALID, `'${r.id}' is not a token id or a certificate serial`)
  const etcd = new Etcd3({ hosts: opts.etcd, dialTimeout: ETCD_CALL_TIMEOUT_MS, defaultCallOptions: () => ({ deadline: Date.now() + ETCD_CALL_TIMEOUT_MS }) })
  try {
    await etcd.put(keyOf(opts.network, Kind.revocations, r.id)).value(JSON.stringify(r)).exec()
  } catch (err) {
    throw new FerryError(TopologyCode.UNAVAILABLE, `etcd: writing the revocation of ${r.id} failed: ${(err as Error).message} (revoked.json of the PKI dir has it; run the command again when etcd is back)`, { cause: err })
  } finally {
    etcd.close()
  }
}

export interface RevocationFollower {
  /**
   * Settles after the first list (or the first failure to list: the site then starts with the PKI dir's list
   * only and keeps retrying). Awaited by startNetworkSite so that a starting gateway knows the revocations.
   */
  readonly ready: Promise<void>
  /** Revocations currently known from etcd. */
  size (): number
  close (): Promise<void>
}

/** Follow the network's revocations in etcd and apply them to `sink`. Starts in the background; never throws. */
export function followRevocations (etcd: Etcd3, network: string, sink: RevocationSink, logger: Logger): RevocationFollower {
  const prefix = prefixOf(network)
  const ids = new Map<string, string>() // key → id
  let watcher: Watcher | undefined
  let retry: NodeJS.Timeout | undefined
  let closed = false
  let settle: () => void = () => {}
  const ready = new Promise<void>((resolve) => { settle = resolve })

  const publish = (): void => { sink.applyRevocations(ETCD_REVOCATION_SOURCE, [...ids.values()]) }
  const idOf = (key: string): string | undefined => {
    const id = key.slice(prefix.length)
    if (REVOCATION_ID.test(id)) return id
    logger.warn({ key }, 'revocation key ignored: not a token id or a certificate serial')
    return undefined
  }
  const put = (key: string): void => {
    const id = idOf(key)
    if (id === undefined) return
    if (!ids.has(key) && ids.size >= REVOCATIONS_IN_ETCD_MAX) { logger.error({ key, max: REVOCATIONS_IN_ETCD_MAX }, 'too many revocations in etcd: this one is not applied'); return }
    ids.set(key, id)
  }

  const connect = async (): Promise<void> => {
    const res = await etcd.getAll().prefix(prefix).exec()
    ids.clear()
    for (const kv of res.kvs) put(kv.key.toString())
    publish()
    settle()
    logger.info({ revocations: ids.size }, 'revocations loaded from etcd')
    if (closed) return
    const w = await etcd.watch().prefix(prefix).startRevision(String(Number(res.header.revision) + 1)).create()
    if (closed) { await w.cancel().catch(() => {}); return }
    watcher = w
    w.on('put', (kv) => { put(kv.key.toString()); publish(); logger.info({ key: kv.key.toString() }, 'revocation from etcd applied') })
    w.on('delete', (kv) => { if (ids.delete(kv.key.toString())) { publish(); logger.info({ key: kv.key.toString() }, 'revocation lifted in etcd') } })
    w.on('error', (err) => { logger.warn({ err }, 'revocation watch error (the watcher retries)') })
  }
  const attempt = (): void => {
    connect().catch((err: unknown) => {
      settle()
      if (closed) return
      logger.warn({ err }, `etcd unreachable for revocations; keeping the ${ids.size} known, retrying`)
      retry = setTimeout(attempt, ETCD_RETRY_MS)
      retry.unref()
    })
  }
  attempt()

  return {
    ready,
    size: () => ids.size,
    async close () {
      closed = true
      settle()
      if (retry !== undefined) clearTimeout(retry)
      await watcher?.cancel().catch(() => {})
      watcher = undefined
    }
  }
}
