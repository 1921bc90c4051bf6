/**
 * What the HTTP front end counts: responses by status and rejections by
 * error code (both finite sets, so the maps stay small). Reported by
 * `GET /v1/admin/stats` under `http`.
 */
export class HttpCounters {
  private readonly statuses = new Map<number, number>()
  private readonly codes = new Map<string, number>()

  responded (status: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1)
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
