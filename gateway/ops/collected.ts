/**
 * A metric whose samples are read at scrape time (from the stats() functions
 * of the ledger, dispatcher and front ends, or from plain counters the hot
 * paths bump). prom-client's registry formats it like its own metrics.
 */
export type Labels = Record<string, string | number>
export interface Sample { labels?: Labels, value: number, metricName?: string }
export type MetricType = 'counter' | 'gauge' | 'histogram'

export class CollectedMetric {
  readonly aggregator = 'sum'

  constructor (
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly read: () => Sample[] | Promise<Sample[]>
  ) {}

  async get (): Promise<{ name: string, help: string, type: MetricType, values: Sample[], aggregator: string }> {
    return { name: this.name, help: this.help, type: this.type, values: await this.read(), aggregator: this.aggregator }
  }
}

/** `tenant` and `namespace` labels of a `tenant/namespace` name. */
export function nsLabels (namespace: string): { tenant: string, namespace: string } {
  const i = namespace.indexOf('/')
  return { tenant: namespace.slice(0, i), namespace: namespace.slice(i + 1) }
}
