/**
 * What the HTTP front end counts: responses by status and rejections by
 * error code (both finite sets, so the maps stay small). Reported by
 * `GET /v1/admin/stats` under `http`.
 */
export class HttpCounters {
  private readonly statuses = new Map<number, number>()
  private readonly codes = new Map<string, number>()
  /** Responses by (status, error code) for metrics; code '' for successes. Both sets are finite. */
  private readonly pairs = new Map<string, { status: number, code: string, count: number }>()
  /** Requests received and not yet answered or aborted. */
  inFlight = 0

  started (): void { this.inFlight++ }
  aborted (): void { this.inFlight-- }

  responded (status: number, code = ''): void {
    this.inFlight--
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1)
    const key = `${status} ${code}`
    const p = this.pairs.get(key)
    if (p === undefined) this.pairs.set(key, { status, code, count: 1 })
    else p.count++
  }

  /** Responses by status and error code, for gateway/ops metrics. */
  responses (): Array<{ status: number, code: string, count: number }> {
    return [...this.pairs.values()].map((p) => ({ ...p }))
  }

  rejected (code: string): void {
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1)
  }

  snapshot (): { responsesByStatus: Record<string, number>, rejectionsByCode: Record<string, number> } {
    return {
      responsesByStatus: Object.fromEntries([...this.statuses].map(([k, v]) => [String(k), v])),
      rejectionsByCode: Object.fromEntries(this.codes)
    }
  }
}
