/**
 * CPU per request from a V8 CPU profile of an ab-uws.ts child (`--prof DIR`
 * prints each profile with the requests its child served):
 *
 *   npx tsx gateway/http/bench/prof-summary.ts FILE.cpuprofile REQUESTS [--top N]
 *
 * Counts the samples from the first one inside the HTTP transport (so the
 * gateway's start-up is left out) to the end, and prints µs per request: all
 * of it but idle, then by layer (the file of the innermost frame: gateway/http,
 * gateway/dispatch, store, ...; native and Node frames on their own lines),
 * then the functions with the most self time. A/B figures: sampling is at
 * the profiler's interval, and the machine's load shows in them as in any.
 */
import { readFileSync } from 'node:fs'

interface CallFrame { functionName: string, url: string, lineNumber: number }
interface ProfileNode { id: number, callFrame: CallFrame, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/** Frames of this file mark the first request: samples before it are the process's start-up. */
const TRANSPORT_URL_SUFFIX = '/gateway/http/transport.js'
/** Default number of functions listed by self time. */
const TOP_FUNCTIONS_DEFAULT = 15
/** Layers named by a path part of the frame's url, first match wins. */
const LAYERS = ['/gateway/http/', '/gateway/auth/', '/gateway/ops/', '/gateway/dispatch/', '/gateway/policy/', '/gateway/', '/store/', '/common/', '/node_modules/'] as const

function layerOf (f: CallFrame): string {
  const name = f.functionName
  if (name === '(idle)' || name === '(program)' || name === '(garbage collector)' || name === '(root)') return name
  if (f.url === '') return '(native: uWS, V8 builtins)'
  if (f.url.startsWith('node:')) return '(node internals)'
  for (const l of LAYERS) if (f.url.includes(l)) return l.slice(1, -1)
  return '(other)'
}

function main (): void {
  const [file, requestsArg] = process.argv.slice(2)
  const topAt = process.argv.indexOf('--top')
  const top = topAt > 0 ? Number(process.argv[topAt + 1]) : TOP_FUNCTIONS_DEFAULT
  const requests = Number(requestsArg)
  if (file === undefined || !(requests > 0)) throw new Error('usage: prof-summary.ts FILE.cpuprofile REQUESTS [--top N]')
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map<number, ProfileNode>(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const inTransport = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      if (byId.get(at)?.callFrame.url.endsWith(TRANSPORT_URL_SUFFIX) === true) return true
    }
    return false
  }
  let from = p.samples.findIndex(inTransport)
  if (from < 0) from = 0
  const layers = new Map<string, number>()
  const functions = new Map<string, number>()
  let busyUs = 0
  for (let i = from; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i] as number)
    const us = p.timeDeltas[i] ?? 0
    if (node === undefined) continue
    const layer = layerOf(node.callFrame)
    layers.set(layer, (layers.get(layer) ?? 0) + us)
    if (layer === '(idle)') continue
    busyUs += us
    const f = node.callFrame
    const key = `${f.functionName === '' ? '(anonymous)' : f.functionName} ${f.url.replace(/^.*\/(dist|node_modules)\//, '')}:${f.lineNumber + 1}`
    functions.set(key, (functions.get(key) ?? 0) + us)
  }
  const perReq = (us: number): string => (us / requests).toFixed(2).padStart(7)
  process.stdout.write(`${file}: ${requests} requests, ${perReq(busyUs)} us CPU/request sampled (idle left out)\n`)
  for (const [layer, us] of [...layers].sort((a, b) => b[1] - a[1])) if (layer !== '(idle)') process.stdout.write(`  ${perReq(us)}  ${layer}\n`)
  process.stdout.write('  self time, top functions:\n')
  for (const [fn, us] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`  ${perReq(us)}  ${fn}\n`)
}

main()
