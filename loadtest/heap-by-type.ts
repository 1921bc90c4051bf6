/**
 * `node dist/loadtest/heap-by-type.js FILE.heapsnapshot [--per N] [--top K]`:
 * what a heap snapshot is made of, summed by node type and constructor name
 * (self sizes), largest first. `--per N` also divides by N (bench:topics
 * --heap-snapshot: N topics, so bytes and objects per topic). `--retainers
 * NAME` instead sums what holds the nodes named NAME (retainer's type and
 * name, and the edge's name), two levels up.
 */
import { readFileSync } from 'node:fs'

interface Snapshot {
  snapshot: { meta: { node_fields: string[], node_types: [string[], ...unknown[]], edge_fields: string[], edge_types: [string[], ...unknown[]] } }
  nodes: number[]
  edges: number[]
  strings: string[]
}

/** For each node named `name`, its retainers and theirs: "type name .edge <- type name .edge", counted. */
function retainers (snap: Snapshot, name: string, per: number, top: number): void {
  const nf = snap.snapshot.meta.node_fields
  const ef = snap.snapshot.meta.edge_fields
  const ntypes = snap.snapshot.meta.node_types[0]
  const etypes = snap.snapshot.meta.edge_types[0]
  const nw = nf.length
  const ew = ef.length
  const edgeCountAt = nf.indexOf('edge_count')
  const nameAt = nf.indexOf('name')
  const typeAt = nf.indexOf('type')
  const etypeAt = ef.indexOf('type')
  const enameAt = ef.indexOf('name_or_index')
  const toAt = ef.indexOf('to_node')
  const nodeCount = snap.nodes.length / nw
  // Reverse edges: for each node, (from node, edge) pairs, in flat arrays.
  const inCount = new Uint32Array(nodeCount + 1)
  for (let e = 0; e < snap.edges.length; e += ew) inCount[(snap.edges[e + toAt] as number) / nw + 1]++
  for (let i = 1; i <= nodeCount; i++) (inCount as Uint32Array)[i] += inCount[i - 1] as number
  const inFrom = new Uint32Array(snap.edges.length / ew)
  const inEdge = new Uint32Array(snap.edges.length / ew)
  const fill = inCount.slice()
  let e = 0
  for (let n = 0; n < nodeCount; n++) {
    const edges = snap.nodes[n * nw + edgeCountAt] as number
    for (let k = 0; k < edges; k++, e += ew) {
      const to = (snap.edges[e + toAt] as number) / nw
      const at = (fill[to] as number)++
      inFrom[at] = n
      inEdge[at] = e
    }
  }
  const label = (n: number): string => `${ntypes[snap.nodes[n * nw + typeAt] as number] as string} ${(snap.strings[snap.nodes[n * nw + nameAt] as number] as string).slice(0, 40)}`
  const edgeLabel = (ed: number): string => {
    const t = etypes[snap.edges[ed + etypeAt] as number] as string
    const v = snap.edges[ed + enameAt] as number
    return t === 'element' || t === 'hidden' ? `[${t}]` : `.${snap.strings[v] as string}`
  }
  const sums = new Map<string, number>()
  for (let n = 0; n < nodeCount; n++) {
    if (snap.strings[snap.nodes[n * nw + nameAt] as number] !== name) continue
    for (let i = inCount[n] as number; i < (inCount[n + 1] as number); i++) {
      const from = inFrom[i] as number
      if ((etypes[snap.edges[(inEdge[i] as number) + etypeAt] as number] as string) === 'weak') continue
      const up = inCount[from] === inCount[from + 1] ? '' : ` <- ${label(inFrom[inCount[from] as number] as number)} ${edgeLabel(inEdge[inCount[from] as number] as number)}`
      const key = `${label(from)} ${edgeLabel(inEdge[i] as number)}${up}`
      sums.set(key, (sums.get(key) ?? 0) + 1)
    }
  }
  for (const [key, c] of [...sums.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${(c / per).toFixed(3).padStart(10)}  ${key}\n`)
}

function arg (name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

function main (): void {
  const file = process.argv[2]
  if (file === undefined) throw new Error('usage: heap-by-type FILE.heapsnapshot [--per N] [--top K]')
  const per = Number(arg('per') ?? 1)
  const top = Number(arg('top') ?? 40)
  const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const held = arg('retainers')
  if (held !== undefined) { retainers(snap, held, per, top); return }
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const width = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const sums = new Map<string, { bytes: number, count: number }>()
  let total = 0
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt] as number] as string
    // Strings by type only (their text is their name); objects by constructor.
    const name = type === 'string' || type === 'concatenated string' || type === 'sliced string' || type === 'number' ? '' : snap.strings[snap.nodes[i + nameAt] as number] as string
    const key = `${type} ${name.slice(0, 60)}`
    const size = snap.nodes[i + sizeAt] as number
    total += size
    const s = sums.get(key) ?? { bytes: 0, count: 0 }
    s.bytes += size
    s.count++
    sums.set(key, s)
  }
  const rows = [...sums.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, top)
  process.stdout.write(`total ${total} bytes (${(total / per).toFixed(1)} per ${per === 1 ? 'snapshot' : 'unit'})\n`)
  for (const [key, s] of rows) process.stdout.write(`${(s.bytes / per).toFixed(1).padStart(10)} B ${(s.count / per).toFixed(2).padStart(8)} obj  ${key}\n`)
}

main()
