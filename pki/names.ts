/**
 * Name rules of the PKI. Site names follow node-name rules (they become etcd
 * keys, NATS subjects and certificate names): a letter, then letters, digits
 * or underscore, at most SITE_NAME_CHARS_MAX characters.
 */
import { SITE_NAME_CHARS_MAX } from './constants.js'
import { PkiCode, pkiError } from './errors.js'

const SITE_NAME = /^[A-Za-z][A-Za-z0-9_]*$/
/** Tenant, namespace and client id parts: the same characters as namespace names (gateway/policy). */
const NAME_PART = /^[A-Za-z0-9_.-]{1,128}$/
/** Namespace patterns in tokens: a name, or a name with `*` standing for any run of name characters. */
const NS_PATTERN = /^[A-Za-z0-9_.*-]{1,128}$/

export const Action = { produce: 'produce', consume: 'consume', admin: 'admin' } as const
export type Action = typeof Action[keyof typeof Action]
export const ACTIONS: readonly Action[] = Object.values(Action)

export function checkSiteName (name: string): string {
  if (name.length === 0 || name.length > SITE_NAME_CHARS_MAX || !SITE_NAME.test(name)) {
    throw pkiError(PkiCode.NAME_INVALID,
      `invalid site name '${name}': use 1..${SITE_NAME_CHARS_MAX} letters, digits or underscore, starting with a letter (e.g. eu_west_1)`)
  }
  return name
}

export function checkNamePart (what: string, s: string): string {
  if (!NAME_PART.test(s) || s === '.' || s === '..') {
    throw pkiError(PkiCode.NAME_INVALID, `invalid ${what} '${s}': use 1..128 characters of A-Z a-z 0-9 _ . -`)
  }
  return s
}

/** TENANT/ID of a client certificate. */
export function parseClientName (s: string): { tenant: string, id: string } {
  const parts = s.split('/')
  if (parts.length !== 2) throw pkiError(PkiCode.NAME_INVALID, `client name must be TENANT/ID, got '${s}'`)
  return { tenant: checkNamePart('tenant', parts[0] as string), id: checkNamePart('client id', parts[1] as string) }
}

/** A token's tenant: a tenant name, or `*` for a network operator (site-wide admin routes). */
export function checkTenant (s: string): string {
  return s === '*' ? s : checkNamePart('tenant', s)
}

export function checkNamespacePattern (s: string): string {
  if (!NS_PATTERN.test(s)) throw pkiError(PkiCode.NAME_INVALID, `invalid namespace '${s}': a name of A-Z a-z 0-9 _ . - where * matches any run of them`)
  return s
}

export function checkActions (list: readonly string[]): Action[] {
  if (list.length === 0) throw pkiError(PkiCode.NAME_INVALID, `give at least one action of ${ACTIONS.join(', ')}`)
  const out = new Set<Action>()
  for (const a of list) {
    if (!(ACTIONS as readonly string[]).includes(a)) throw pkiError(PkiCode.NAME_INVALID, `unknown action '${a}': use ${ACTIONS.join(', ')}`)
    out.add(a as Action)
  }
  return [...out]
}

/** Does a namespace pattern (`orders`, `orders-*`, `*`) match a namespace name? */
export function namespacePatternMatches (pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name
  const parts = pattern.split('*')
  const first = parts[0] as string
  const last = parts[parts.length - 1] as string
  if (!name.startsWith(first) || name.length < first.length + last.length || !name.endsWith(last)) return false
  let at = first.length
  const end = name.length - last.length
  for (let i = 1; i < parts.length - 1; i++) {
    const p = parts[i] as string
    const found = name.indexOf(p, at)
    if (found < 0 || found + p.length > end) return false
    at = found + p.length
  }
  return true
}
