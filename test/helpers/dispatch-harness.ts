/**
 * Test harness for gateway/dispatch: a ledger (memory or file), a policy
 * registry with one namespace, a dispatcher, and recording sinks.
 */
import { createDispatcher, type Consumer, type ConsumerSink, type Delivery, type Dispatcher, type SubscribeOptions } from '../../gateway/dispatch/index.js'
import { PolicyRegistry, type NamespacePolicyPatch } from '../../gateway/policy/index.js'
import { createFileLedger, createMemoryLedger, type Ledger } from '../../store/index.js'
import { silentLogger } from '../../common/log.js'
import type { FerryError } from '../../common/errors.js'

export const NS = 'public/default'

export interface Harness {
  ledger: Ledger
  policies: PolicyRegistry
  dispatcher: Dispatcher
  /** Close the dispatcher and the ledger (idempotent). */
  close: () => Promise<void>
}

export interface HarnessOptions {
  policy?: NamespacePolicyPatch
  /** File ledger in this directory instead of the memory ledger. */
  dir?: string
  backlogHoldMsMax?: number
  /** Records per subscription (delivered plus waiting for redelivery); default PENDING_ACK_ENTRIES_MAX. */
  pendingAckEntriesMax?: number
  /** What the dispatcher sees of the ledger (fault injection: test/helpers/dispatch-faults.ts). */
  wrapLedger?: (ledger: Ledger) => Ledger
}

export async function startHarness (opts: HarnessOptions = {}): Promise<Harness> {
  const policies = new PolicyRegistry({ [NS]: { durability: opts.dir !== undefined ? 'sync' : 'memory', ...(opts.policy ?? {}) } })
  const policyOf = (topic: string): ReturnType<PolicyRegistry['storePolicy']> => policies.storePolicy(topic)
  let ledger: Ledger
  if (opts.dir !== undefined) {
    ledger = createFileLedger({ dir: opts.dir, siteId: 'test', policyOf, retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  } else {
    ledger = createMemoryLedger({ siteId: 'test', policyOf, retentionIntervalMs: 0, checkpointIntervalMs: 0 })
  }
  await ledger.open()
  policies.attach(ledger)
  const dispatcher = createDispatcher({
    ledger: opts.wrapLedger?.(ledger) ?? ledger,
    policies,
    siteId: 'test',
    logger: silentLogger,
    ...(opts.backlogHoldMsMax !== undefined ? { backlogHoldMsMax: opts.backlogHoldMsMax } : {}),
    ...(opts.pendingAckEntriesMax !== undefined ? { pendingAckEntriesMax: opts.pendingAckEntriesMax } : {})
  })
  let closed = false
  return {
    ledger,
    policies,
    dispatcher,
    close: async () => {
      if (closed) return
      closed = true
      await dispatcher.close()
      await ledger.close()
    }
  }
}

/** A sink that records everything; deliveries carry the time they arrived. */
export class RecordingSink implements ConsumerSink {
  readonly deliveries: Array<Delivery & { atMs: number }> = []
  readonly activeChanges: boolean[] = []
  closedWith: FerryError | undefined
  onDeliver: ((d: Delivery) => void) | undefined

  deliver (d: Delivery): void {
    this.deliveries.push({ ...d, atMs: Date.now() })
    this.onDeliver?.(d)
  }

  closed (reason: FerryError): void { this.closedWith = reason }
  activeChanged (active: boolean): void { this.activeChanges.push(active) }

  get active (): boolean | undefined { return this.activeChanges[this.activeChanges.length - 1] }
  payloads (): string[] { return this.deliveries.map((d) => d.payload.toString()) }
}

export async function consume (
  d: Dispatcher,
  opts: Partial<SubscribeOptions> & { subscription: string }
): Promise<{ consumer: Consumer, sink: RecordingSink }> {
  const sink = new RecordingSink()
  const consumer = await d.subscribe({
    namespace: NS,
    filter: 'orders',
    mode: 'exclusive',
    durable: true,
    initialPosition: 'earliest',
    consumerName: 'c',
    permits: 1000,
    sink,
    ...opts
  })
  return { consumer, sink }
}

export async function publishMany (d: Dispatcher, topic: string, payloads: string[], props: Parameters<Dispatcher['publish']>[0]['props'] = {}): Promise<number[]> {
  const ids: number[] = []
  for (const p of payloads) ids.push((await d.publish({ topic, payload: Buffer.from(p), props })).entryId)
  return ids
}

export function range (n: number, prefix = 'm'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`)
}
