/** Checked access to path, query and body values of ops requests. Bad input is E_BAD_REQUEST with the field named. */
import { FerryError, CommonCode } from '../../common/errors.js'
import { checkNamespaceName } from '../policy/index.js'
import { checkPublishTopicLocal, fullTopicName } from '../topic-names.js'
import type { OpsRequest } from './route-table.js'

export function bad (why: string): FerryError { return new FerryError(CommonCode.BAD_REQUEST, why) }

export function param (req: OpsRequest, name: string): string {
  const v = req.params[name]
  if (v === undefined) throw bad(`missing path parameter ${name}`)
  return v
}

/** `tenant/namespace` from the path (400 when malformed). */
export function namespaceParam (req: OpsRequest): string {
  return checkNamespaceName(param(req, 'tenant'), param(req, 'namespace'))
}

/** Namespace that must exist (404 otherwise), topic local name and full name. */
export function topicParam (ctx: { policies: { get: (ns: string) => unknown } }, req: OpsRequest, name = 'topic'): { namespace: string, local: string, topic: string } {
  const namespace = namespaceParam(req)
  ctx.policies.get(namespace)
  const local = param(req, name)
  checkPublishTopicLocal(local)
  return { namespace, local, topic: fullTopicName(namespace, local) }
}

export function intQuery (req: OpsRequest, name: string, dflt: number, min: number, max: number): number {
  const v = req.query.get(name)
  if (v === null || v === '') return dflt
  if (!/^\d{1,15}$/.test(v)) throw bad(`query parameter ${name} must be a non-negative integer`)
  const n = Number(v)
  if (n < min || n > max) throw bad(`query parameter ${name} must be in [${min}, ${max}]`)
  return n
}

export function bodyObject (req: OpsRequest): Record<string, unknown> {
  const b = req.body ?? {}
  if (b === null || typeof b !== 'object' || Array.isArray(b)) throw bad('body must be a JSON object')
  return b as Record<string, unknown>
}

export function onlyFields (o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(`unknown field ${k}`)
}

export function intField (o: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = o[name]
  if (v === undefined) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw bad(`${name} must be an integer in [${min}, ${max}]`)
  return v
}
