import type { Generation, IndexGenerations } from './generations.js';
import type { SnapshotRequests } from './postgres.js';
import type { SinkLog } from './search-sink.js';
import { versionAtLsn } from './version.js';

/** How far the consumers have got, for the table's topic. */
export interface ConsumerProgress {
  /**
   * True when every partition of the table's topic has been handled (and committed) past the
   * source position `lsn`: either a handled event committed at or after it, or no lag at all.
   */
  passed(table: string, lsn: string): Promise<boolean>;
}

export interface RebuildSupervisorOptions {
  indexes: { spec: { table: string; index: string }; generations: IndexGenerations }[];
  snapshots: SnapshotRequests;
  progress: ConsumerProgress;
  log?: SinkLog;
  /** How often requests and rebuilds are looked at (default 1 s). */
  pollMs?: number;
  /**
   * How long after a building generation appears every indexer is known to write to it: the
   * generation cache lifetime plus a margin (default 3 s).
   */
  settleMs?: number;
  onRebuilt?: (index: string, generation: string) => void;
}

/**
 * Rebuilds an index without downtime when its table is snapshotted again
 * (`requestSnapshot(db, slot, table)`, `cdc-cache resnapshot TABLE`):
 *
 * 1. A new snapshot request of a table that was snapshotted before, whose index holds
 *    documents, starts a **building** generation; from then on every indexer writes each change
 *    to the current and the building generation (it resolves generations at least every cache
 *    lifetime). A table's first snapshot (the initial one) fills its index as it is.
 * 2. Once `settleMs` have passed, every indexer writes there. The building generation's floor
 *    becomes the source's current WAL position S: a change committed before S is not needed
 *    (each row that still exists is read by the snapshot, later), and dropping such changes
 *    keeps a lagging partition from bringing back a row deleted before S. If the request is
 *    still waiting (the cdc-worker has not written its first watermark), its snapshot comes
 *    entirely after S and fills the generation; otherwise the supervisor requests its own.
 * 3. When that snapshot is done (all of its `r` events are in Kafka), the supervisor notes the
 *    WAL position X and waits until the consumers have passed X in every partition of the
 *    table's topic; then the read alias moves to the building generation (compare-and-swap),
 *    and the old generation is deleted.
 *
 * A truncate during the rebuild deletes the building generation (the truncate's own empty
 * generation is complete by itself); the supervisor then lets it go.
 */
export class RebuildSupervisor {
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** Requests looked at and not needing a rebuild (the index was empty). */
  private readonly skipped = new Set<number>();
  /** Newest request id looked at; null before the first look (older ones count only if pending). */
  private seen: number | null = null;
  /** Building generation -> WAL position after its snapshot was done. */
  private readonly doneAt = new Map<string, string>();
  private lastWaitLog = new Map<string, number>();

  constructor(private readonly options: RebuildSupervisorOptions) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.poll()
        .catch((error: unknown) => {
          this.options.log?.warn({ err: error }, `rebuild supervisor: ${(error as Error).message}`);
        })
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(tick, this.options.pollMs ?? 1_000);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One look at requests and building generations (exposed for tests). */
  async poll(): Promise<void> {
    const tables = [...new Set(this.options.indexes.map(({ spec }) => spec.table))];
    if (this.seen === null) this.seen = await this.options.snapshots.latestId();
    const requests = await this.options.snapshots.requests(tables, this.seen);
    for (const { spec, generations } of this.options.indexes) {
      const targets = await generations.resolve({ fresh: true });
      if (targets.building.length === 0) {
        // The first (initial) snapshot of a table fills the index as it is: nothing to clean up.
        const request = requests.find(
          (candidate) => candidate.table === spec.table && candidate.again && !this.skipped.has(candidate.id),
        );
        if (request) await this.begin(spec.index, generations, request.id, targets.current);
        continue;
      }
      for (const building of targets.building)
        await this.advance(spec.table, spec.index, generations, building);
    }
    // Requests done by now were seen: a request done while a rebuild was building is covered by it.
    for (const request of requests) if (request.id > this.seen) this.seen = request.id;
  }

  private async begin(index: string, generations: IndexGenerations, request: number, current: Generation) {
    if ((await generations.count(current)) === 0) {
      // Nothing to clean up: the snapshot's rows can go straight into the current generation.
      this.skipped.add(request);
      return;
    }
    const floor = versionAtLsn(await this.options.snapshots.currentLsn());
    const building = await generations.startBuilding(request, floor);
    if (building) {
      this.options.log?.info(
        { index, generation: building.name, snapshotRequest: request },
        'rebuild: building a new generation while the table is snapshotted again',
      );
    }
  }

  private async advance(table: string, index: string, generations: IndexGenerations, building: Generation) {
    const meta = building.meta;
    if (!meta.ready) {
      if (Date.now() - Date.parse(meta.createdAt) < (this.options.settleMs ?? 3_000)) return;
      // Every indexer writes here now: changes from S on are in this generation.
      const start = await this.options.snapshots.currentLsn();
      let request = meta.snapshotRequest ?? -1;
      const status = request >= 0 ? await this.options.snapshots.status(request) : 'missing';
      if (status !== 'requested') request = await this.options.snapshots.request(table);
      await generations.updateBuilding(building, {
        floor: versionAtLsn(start),
        snapshotRequest: request,
        ready: true,
      });
      this.options.log?.info(
        { index, generation: building.name, snapshotRequest: request, floorLsn: start },
        'rebuild: every change from here on is in the new generation; waiting for the snapshot',
      );
      return;
    }
    const status = await this.options.snapshots.status(meta.snapshotRequest ?? -1);
    if (status === 'missing') {
      // The request row is gone (database reset?): ask again.
      const request = await this.options.snapshots.request(table);
      await generations.updateBuilding(building, { snapshotRequest: request });
      return;
    }
    if (status !== 'done') return;
    let doneAt = this.doneAt.get(building.name);
    if (doneAt === undefined) {
      doneAt = await this.options.snapshots.currentLsn();
      this.doneAt.set(building.name, doneAt);
    }
    if (!(await this.options.progress.passed(table, doneAt))) {
      const last = this.lastWaitLog.get(building.name) ?? 0;
      if (Date.now() - last > 10_000) {
        this.lastWaitLog.set(building.name, Date.now());
        this.options.log?.info(
          { index, generation: building.name, lsn: doneAt },
          'rebuild: snapshot done; catching up',
        );
      }
      return;
    }
    const promoted = await generations.promote(building);
    this.doneAt.delete(building.name);
    this.lastWaitLog.delete(building.name);
    if (promoted) {
      this.options.log?.info(
        { index, generation: building.name },
        'rebuild: alias swapped to the new generation',
      );
      this.options.onRebuilt?.(index, building.name);
    }
  }
}
