/**
 * Access tokens of the gateway's PKI dir: list, issue, revoke (what `ferry
 * pki token|revoke|list` do on the command line, here for an operator with
 * the admin action). The token string is returned once, by the issue call,
 * and never listed or logged. A revocation is written to the dir's
 * revoked.json and applied in this gateway at once; other gateways watching
 * the same file follow within their poll interval, network sites through
 * etcd (`ferry pki revoke --etcd`).
 */
import { CommonCode, FerryError, isFerryError } from '../../common/errors.js'
import { IssuedKind, PkiCode, issueToken, listIssued, parseTtl, pkiLayout, revoke, type ListedEntry } from '../../pki/index.js'
import type { OpsContext, OpsPki } from './context.js'
import { OpsCode } from './errors.js'
import { bad, bodyObject, onlyFields, param } from './params.js'
import { ok, type OpsRoute } from './route-table.js'

const ISSUE_FIELDS = ['tenant', 'namespaces', 'actions', 'ttl', 'ttlMs', 'topics'] as const

function pkiOf (ctx: OpsContext): OpsPki {
  if (ctx.pki === undefined) {
    throw new FerryError(OpsCode.TOKENS_UNAVAILABLE, 'this gateway has no PKI dir (dev mode without --pki): start it with --pki DIR, or issue tokens with `ferry pki token --dir DIR`')
  }
  return ctx.pki
}

/** PKI refusals of the caller's input (names, actions, ttl) are 400s here (the PKI's own codes map to 500). */
function asBadRequest (err: unknown): unknown {
  return isFerryError(err, PkiCode.NAME_INVALID) ? bad(err.message) : err
}

/** ...and a PKI dir that cannot issue (no signing key: a site given only the public half) is the gateway's state, 409. */
function fromIssue (err: unknown, dir: string): unknown {
  if (isFerryError(err, PkiCode.DIR_MISSING)) return new FerryError(OpsCode.TOKENS_UNAVAILABLE, `the PKI dir ${dir} of this gateway cannot issue tokens: ${err.message}`)
  return asBadRequest(err)
}

function stringList (o: Record<string, unknown>, name: string, required: boolean): string[] | undefined {
  const v = o[name]
  if (v === undefined && !required) return undefined
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw bad(`${name} must be a list of strings${required ? ' (required)' : ''}`)
  return v as string[]
}

function ttlSecOf (o: Record<string, unknown>): number {
  if ((o.ttl === undefined) === (o.ttlMs === undefined)) throw bad('give one of ttl (e.g. "30d", "12h", "90m") or ttlMs')
  if (o.ttl !== undefined) {
    if (typeof o.ttl !== 'string') throw bad('ttl must be a string such as "30d", "12h", "90m" or "45s"')
    try { return parseTtl(o.ttl) } catch (err) { throw asBadRequest(err) }
  }
  const ms = o.ttlMs
  // Tokens carry whole seconds (JWT exp); parseTtl's bounds apply.
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 1000 || ms % 1000 !== 0) throw bad('ttlMs must be a whole number of seconds in ms (at least 1000)')
  try { return parseTtl(String(ms / 1000)) } catch (err) { throw asBadRequest(err) }
}

/** A token as listed: its grant and state, never the token itself (issued.json does not hold it). */
function tokenView (e: ListedEntry): Record<string, unknown> {
  return {
    id: e.id,
    tenant: e.name,
    namespaces: e.namespaces ?? [],
    actions: e.actions ?? [],
    ...(e.topics !== undefined ? { topics: e.topics } : {}),
    issuedAt: e.issuedAt,
    expiresAt: e.expiresAt,
    revoked: e.revoked,
    expired: e.expired
  }
}

async function tokensOf (pki: OpsPki): Promise<ListedEntry[]> {
  return (await listIssued(pkiLayout(pki.dir))).filter((e) => e.kind === IssuedKind.token)
}

export const tokenRoutes: OpsRoute[] = [
  {
    method: 'GET',
    path: '/v1/admin/tokens',
    operationId: 'listTokens',
    admin: true,
    handle: async (ctx) => ok({ tokens: (await tokensOf(pkiOf(ctx))).map(tokenView) })
  },
  {
    method: 'POST',
    path: '/v1/admin/tokens',
    operationId: 'issueToken',
    admin: true,
    jsonBody: true,
    handle: async (ctx, req) => {
      const pki = pkiOf(ctx)
      const o = bodyObject(req)
      onlyFields(o, ISSUE_FIELDS)
      if (typeof o.tenant !== 'string' || o.tenant.length === 0) throw bad('tenant is required: a tenant name, or * for a network operator')
      const namespaces = stringList(o, 'namespaces', true) as string[]
      const actions = stringList(o, 'actions', true) as string[]
      const topics = stringList(o, 'topics', false)
      const ttlSec = ttlSecOf(o)
      let issued: Awaited<ReturnType<typeof issueToken>>
      try {
        issued = await issueToken(pki.dir, { tenant: o.tenant, namespaces, actions, ttlSec, ...(topics !== undefined ? { topics } : {}) })
      } catch (err) { throw fromIssue(err, pki.dir) }
      const c = issued.claims
      ctx.logger.info({ tokenId: c.id, tenant: c.tenant, namespaces: c.namespaces, actions: c.actions }, 'token issued by admin')
      return ok({
        id: c.id,
        token: issued.token,
        tenant: c.tenant,
        namespaces: c.namespaces,
        actions: c.actions,
        ...(c.topics !== undefined ? { topics: c.topics } : {}),
        expiresAt: new Date(c.expiresAt).toISOString()
      }, 201)
    }
  },
  {
    method: 'DELETE',
    path: '/v1/admin/tokens/{id}',
    operationId: 'revokeToken',
    admin: true,
    handle: async (ctx, req) => {
      const pki = pkiOf(ctx)
      const id = param(req, 'id')
      // Only tokens here: a certificate serial is revoked with `ferry pki revoke`.
      if (!(await tokensOf(pki)).some((e) => e.id === id)) throw new FerryError(CommonCode.NOT_FOUND, `no token with id ${id} was issued from ${pki.dir}: see GET /v1/admin/tokens`)
      let r: Awaited<ReturnType<typeof revoke>>
      try { r = await revoke(pkiLayout(pki.dir), id) } catch (err) {
        throw isFerryError(err, PkiCode.UNKNOWN_ID) ? new FerryError(CommonCode.NOT_FOUND, err.message) : err
      }
      await pki.revocationsChanged()
      if (!r.already) ctx.logger.info({ tokenId: id, tenant: r.entry.name }, 'token revoked by admin')
      return ok({ revoked: true, id, tenant: r.entry.name, already: r.already })
    }
  }
]
