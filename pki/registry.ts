/**
 * What a PKI directory has issued (issued.json) and what was revoked
 * (revoked.json). Both are rewritten atomically, so a gateway watching
 * revoked.json reads either the old or the new list.
 */
import { PKI_FILE_BYTES_MAX, REVOKED_ENTRIES_MAX } from './constants.js'
import { PkiCode, pkiError } from './errors.js'
import { readJson, withDirLock, writeAtomic } from './files.js'
import type { PkiLayout } from './layout.js'
import { normalSerial } from './x509.js'

export const IssuedKind = { ca: 'ca', site: 'site', client: 'client', token: 'token' } as const
export type IssuedKind = typeof IssuedKind[keyof typeof IssuedKind]

export interface IssuedEntry {
  kind: IssuedKind
  /** Certificate serial (hex) or token id (jti). */
  id: string
  /** Site name, TENANT/ID, or the token's tenant. */
  name: string
  issuedAt: string
  expiresAt: string
  /** Token: namespaces and actions granted (for `ferry pki list`), and the topic patterns it is narrowed to, if any. */
  namespaces?: string[]
  actions?: string[]
  topics?: string[]
}

export interface RevokedEntry { id: string, revokedAt: string }

interface IssuedFile { issued: IssuedEntry[] }
interface RevokedFile { revoked: RevokedEntry[] }

export async function readIssued (l: PkiLayout): Promise<IssuedEntry[]> {
  const doc = await readJson<IssuedFile>(l.issued, { issued: [] })
  if (!Array.isArray(doc.issued)) throw pkiError(PkiCode.FILE_INVALID, `${l.issued} has no "issued" list`)
  return doc.issued
}

export async function recordIssued (l: PkiLayout, entry: IssuedEntry): Promise<void> {
  await withDirLock(l.dir, async () => { await recordIssuedLocked(l, entry) })
}

async function recordIssuedLocked (l: PkiLayout, entry: IssuedEntry): Promise<void> {
  const list = await readIssued(l)
  list.push(entry)
  const text = JSON.stringify({ issued: list }, null, 1) + '\n'
  if (text.length > PKI_FILE_BYTES_MAX) throw pkiError(PkiCode.FILE_INVALID, `${l.issued} would pass ${PKI_FILE_BYTES_MAX} bytes: prune expired entries`)
  await writeAtomic(l.issued, text)
}

export async function readRevoked (l: PkiLayout): Promise<RevokedEntry[]> {
  const doc = await readJson<RevokedFile>(l.revoked, { revoked: [] })
  if (!Array.isArray(doc.revoked)) throw pkiError(PkiCode.FILE_INVALID, `${l.revoked} has no "revoked" list`)
  return doc.revoked.filter((e) => typeof e?.id === 'string').slice(0, REVOKED_ENTRIES_MAX)
}

/** Ids as gateways compare them: certificate serials normalised, token ids as they are. */
export function revocationKey (id: string): string {
  return !id.startsWith('tok_') && /^[0-9a-fA-F]{1,40}$/.test(id) ? `serial:${normalSerial(id)}` : `token:${id}`
}

/** Revoke a token id or a certificate serial. Unknown ids are refused (a typo must not look done). */
export async function revoke (l: PkiLayout, id: string): Promise<{ entry: IssuedEntry, already: boolean }> {
  return await withDirLock(l.dir, async () => await revokeLocked(l, id))
}

async function revokeLocked (l: PkiLayout, id: string): Promise<{ entry: IssuedEntry, already: boolean }> {
  const issued = await readIssued(l)
  const key = revocationKey(id)
  const entry = issued.find((e) => revocationKey(e.id) === key)
  if (entry === undefined) throw pkiError(PkiCode.UNKNOWN_ID, `nothing issued from ${l.dir} has id ${id}: see \`ferry pki list --dir ${l.dir}\``)
  if (entry.kind === IssuedKind.ca) throw pkiError(PkiCode.NAME_INVALID, 'the root CA cannot be revoked: make a new PKI directory and re-issue')
  const revoked = await readRevoked(l)
  if (revoked.some((r) => revocationKey(r.id) === key)) return { entry, already: true }
  if (revoked.length >= REVOKED_ENTRIES_MAX) throw pkiError(PkiCode.FILE_INVALID, `revocation list is full (${REVOKED_ENTRIES_MAX} entries)`)
  revoked.push({ id: entry.id, revokedAt: new Date().toISOString() })
  await writeAtomic(l.revoked, JSON.stringify({ revoked }, null, 1) + '\n')
  return { entry, already: false }
}

export interface ListedEntry extends IssuedEntry { revoked: boolean, expired: boolean }

export async function listIssued (l: PkiLayout, nowMs = Date.now()): Promise<ListedEntry[]> {
  const revoked = new Set((await readRevoked(l)).map((r) => revocationKey(r.id)))
  return (await readIssued(l)).map((e) => ({ ...e, revoked: revoked.has(revocationKey(e.id)), expired: Date.parse(e.expiresAt) <= nowMs }))
}
