/**
 * What the HTTP front end counts: responses by status and rejections by
 * error code (both finite sets, so the maps stay small). Reported by
 * `GET /v1/admin/stats` under `http`.
 *
 * Hot path: a response is counted with two map lookups by number and one by
 * code, no string built per response (publish answers tens of thousands of
 * requests a second).
 */
interface StatusCount { status: number, code: string, count: number }

export class HttpCounters {
  /** Per status: responses in all, and per error code ('' for successes). Both sets are finite. */
  private readonly byStatus = new Map<number, { count: number, codes: Map<string, StatusCount> }>()
  private readonly codes = new Map<string, number>()
  /** Requests received and not yet answered or aborted. */
  inFlight = 0

  started (): void { this.inFlight++ }
  aborted (): void { this.inFlight-- }

  responded (status: number, code = ''): void {
    this.inFlight--
    let s = this.byStatus.get(status)
    if (s === undefined) { s = { count: 0, codes: new Map() }; this.byStatus.set(status, s) }
    s.count++
    const p = s.codes.get(code)
    if (p === undefined) s.codes.set(code, { status, code, count: 1 })
    else p.count++
  }

  /** Responses by status and error code, for gateway/ops metrics. */
  responses (): Array<{ status: number, code: string, count: number }> {
    const out: StatusCount[] = []
    for (const s of this.byStatus.values()) for (const p of s.codes.values()) out.push({ ...p })
    return out
  }

  rejected (code: string): void {
    this.codes.set(code, (this.codes.get(code) ?? 0) + 1)
  }

  snapshot (): { responsesByStatus: Record<string, number>, rejectionsByCode: Record<string, number> } {
    return {
      responsesByStatus: Object.fromEntries([...this.byStatus].map(([k, v]) => [String(k), v.count])),
      rejectionsByCode: Object.fromEntries(this.codes)
    }
  }
}
