import { type Elasticsearch, ElasticsearchError } from './elasticsearch.js';
import { LIVE_DOCUMENTS_FILTER } from './mappings.js';

/**
 * An index as users see it is an alias (`products`) over one **generation**, a real index
 * (`products--g0`, `products--t0000000001a2b000`, `products--r12`). Generations are how this
 * Elasticsearch distribution, which has no delete_by_query and no reindex, empties and rebuilds
 * an index without downtime:
 *
 * - TRUNCATE creates an empty generation whose **floor** is the truncate's version, points the
 *   alias at it (compare-and-swap: the alias moves only if it still names the generation the
 *   caller saw) and deletes the old one. Writes of any change at or below a generation's floor
 *   are skipped: they happened before the truncate, even if a lagging partition delivers them
 *   later. The truncate's generation name is derived from its version, so the copies of a
 *   truncate (one per partition, maybe in several indexers) all create the same index.
 * - A re-snapshot creates a **building** generation (alias `products--building`). Every write
 *   then goes to the current and the building generation; once the snapshot is done and the
 *   consumers have passed it, the read alias swaps to the building generation, which becomes
 *   current, and the old one is deleted.
 *
 * Each generation has its own write alias (`<generation>--w`), and bulk requests use
 * `require_alias=true`: a write to a generation deleted meanwhile fails (and is re-routed)
 * instead of auto-creating a stray index of that name.
 *
 * A generation's `_meta.cdcCache` holds its floor and, for a building one, the snapshot request
 * that fills it; everything survives a restart of the indexer.
 */

export interface GenerationMeta {
  index: string;
  table: string;
  /** Changes at or below this version are not written here (decimal string of a 64-bit version). */
  floor: string;
  kind: 'initial' | 'truncate' | 'rebuild';
  createdAt: string;
  /** Building generations: the snapshot request (cdc_cache.snapshots id) that fills it. */
  snapshotRequest?: number;
  /** Building generations: every writer is known to write here, and the snapshot was chosen. */
  ready?: boolean;
}

export interface Generation {
  name: string;
  writeAlias: string;
  floor: bigint;
  meta: GenerationMeta;
}

export interface Targets {
  current: Generation;
  building: Generation[];
}

export class GenerationError extends Error {
  readonly code = 'SEARCH_INDEX_CONFLICT';
  constructor(message: string) {
    super(message);
    this.name = 'GenerationError';
  }
}

export const generationNames = {
  initial: (index: string) => `${index}--g0`,
  truncate: (index: string, version: bigint) => `${index}--t${version.toString(16).padStart(16, '0')}`,
  rebuild: (index: string, request: number) => `${index}--r${request}`,
  write: (generation: string) => `${generation}--w`,
  building: (index: string) => `${index}--building`,
};

/** Longest configured index name that leaves room for generation suffixes (255 bytes in all). */
export const MAX_INDEX_NAME = 255 - '--t0000000000000000--w'.length;

interface IndexDescription {
  aliases?: Record<string, unknown>;
  mappings?: { _meta?: { cdcCache?: GenerationMeta } };
}

export interface GenerationsOptions {
  index: string;
  table: string;
  /** Mappings of new generations (`dynamic`, `properties`). */
  mappings: () => Record<string, unknown>;
  settings?: Record<string, unknown>;
  /** How long a resolved target list is reused (default 1 s). */
  cacheTtlMs?: number;
}

/** The generations of one configured index. */
export class IndexGenerations {
  private cached: { targets: Targets; at: number } | null = null;
  private resolving: Promise<Targets> | null = null;
  /** Bumped by invalidate(): a look-up started before it must not refill the cache. */
  private epoch = 0;
  readonly cacheTtlMs: number;

  constructor(
    private readonly es: Elasticsearch,
    private readonly options: GenerationsOptions,
  ) {
    this.cacheTtlMs = options.cacheTtlMs ?? 1_000;
  }

  get index(): string {
    return this.options.index;
  }

  get table(): string {
    return this.options.table;
  }

  /** Creates the index (first generation and alias) if it does not exist; removes leftovers. */
  async ensure(): Promise<Targets> {
    const { index } = this.options;
    if (index.length > MAX_INDEX_NAME) {
      throw new GenerationError(
        `search index name ${index} is longer than ${MAX_INDEX_NAME} characters, which leaves no room for its generations; choose a shorter name`,
      );
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const generations = await this.describe();
      const targets = this.targetsOf(generations);
      if (targets !== null) {
        await this.removeLeftovers(generations, targets);
        this.remember(targets);
        return targets;
      }
      await this.refuseForeignIndex();
      const name = generationNames.initial(index);
      const created = await this.create(name, 0n, 'initial', { [index]: { filter: LIVE_DOCUMENTS_FILTER } });
      if (!created) {
        // It exists without the alias (removed by hand?): put the alias back on it.
        await this.es
          .request('POST', '/_aliases', {
            actions: [{ add: { index: name, alias: index, filter: LIVE_DOCUMENTS_FILTER } }],
          })
          .catch(() => undefined);
      }
    }
    throw new GenerationError(`search index ${index}: could not create or find its first generation`);
  }

  /** Current and building generations, from a cache of at most cacheTtlMs. */
  async resolve(options: { fresh?: boolean } = {}): Promise<Targets> {
    if (!options.fresh && this.cached && Date.now() - this.cached.at < this.cacheTtlMs) {
      return this.cached.targets;
    }
    if (options.fresh) return this.lookUp();
    if (this.resolving) return this.resolving;
    this.resolving = this.lookUp().finally(() => {
      this.resolving = null;
    });
    return this.resolving;
  }

  private async lookUp(): Promise<Targets> {
    const started = Date.now();
    const epoch = this.epoch;
    const targets = this.targetsOf(await this.describe());
    if (targets === null) {
      throw new GenerationError(
        `search index ${this.options.index}: its alias is gone (deleted by hand?); restart the search-indexer to create it again`,
      );
    }
    if (epoch === this.epoch && (!this.cached || this.cached.at <= started)) {
      this.cached = { targets, at: started };
    }
    return targets;
  }

  invalidate(): void {
    this.epoch++;
    this.cached = null;
  }

  /**
   * Applies a truncate at `version`: the alias moves to an empty generation whose floor is the
   * version. Idempotent: a truncate at or below the current floor is already applied.
   */
  async truncate(version: bigint): Promise<'applied' | 'already'> {
    const { index } = this.options;
    const name = generationNames.truncate(index, version);
    let created = false;
    for (;;) {
      const targets = await this.resolve({ fresh: true });
      if (targets.current.floor >= version) {
        if (created && targets.current.name !== name) await this.deleteIndex(name);
        return 'already';
      }
      created = (await this.create(name, version, 'truncate', {})) || created;
      const swapped = await this.swapAlias(targets.current.name, name, []);
      if (!swapped) continue; // someone moved the alias meanwhile: look again
      this.invalidate();
      // The old generation and any rebuild in progress hold only rows from before the truncate.
      await this.deleteIndex(targets.current.name);
      for (const building of targets.building) await this.deleteIndex(building.name);
      return 'applied';
    }
  }

  /**
   * Starts a building generation filled by snapshot request `request`; null when one is
   * already building (or another indexer created this one first).
   */
  async startBuilding(request: number, floor: bigint): Promise<Generation | null> {
    const { index } = this.options;
    const targets = await this.resolve({ fresh: true });
    if (targets.building.length > 0) return null;
    const name = generationNames.rebuild(index, request);
    const start = floor > targets.current.floor ? floor : targets.current.floor;
    const created = await this.create(
      name,
      start,
      'rebuild',
      { [generationNames.building(index)]: {} },
      { snapshotRequest: request, ready: false },
    );
    this.invalidate();
    if (!created) return null;
    return (
      (await this.resolve({ fresh: true })).building.find((generation) => generation.name === name) ?? null
    );
  }

  /** Updates a building generation's floor and snapshot request (its `_meta`). */
  async updateBuilding(
    generation: Generation,
    changes: { floor?: bigint; snapshotRequest?: number; ready?: boolean },
  ): Promise<void> {
    const meta: GenerationMeta = {
      ...generation.meta,
      ...(changes.floor !== undefined ? { floor: changes.floor.toString() } : {}),
      ...(changes.snapshotRequest !== undefined ? { snapshotRequest: changes.snapshotRequest } : {}),
      ...(changes.ready !== undefined ? { ready: changes.ready } : {}),
    };
    await this.es.request('PUT', `/${generation.name}/_mapping`, { _meta: { cdcCache: meta } });
    this.invalidate();
  }

  /**
   * Makes a building generation current: the read alias moves to it (only if it still names the
   * generation that was current), then the old generation is deleted. False when the building
   * generation is gone (a truncate cancelled it).
   */
  async promote(generation: Generation): Promise<boolean> {
    const { index } = this.options;
    for (;;) {
      const targets = await this.resolve({ fresh: true });
      if (targets.current.name === generation.name) return true;
      if (!targets.building.some((building) => building.name === generation.name)) return false;
      const swapped = await this.swapAlias(targets.current.name, generation.name, [
        { remove: { index: generation.name, alias: generationNames.building(index), must_exist: true } },
      ]);
      if (!swapped) continue;
      this.invalidate();
      await this.deleteIndex(targets.current.name);
      return true;
    }
  }

  /** Documents in a generation, tombstones included. */
  async count(generation: Generation): Promise<number> {
    const { body } = await this.es.request<{ count: number }>('GET', `/${generation.name}/_count`);
    return body.count;
  }

  async deleteIndex(name: string): Promise<void> {
    await this.es.request('DELETE', `/${name}`, undefined, { accept: [200, 404] });
  }

  private async describe(): Promise<Map<string, Generation & { aliases: string[] }>> {
    const { index } = this.options;
    const { body } = await this.es.request<Record<string, IndexDescription>>(
      'GET',
      `/${index}--*?filter_path=*.aliases,*.mappings._meta&expand_wildcards=open`,
    );
    const generations = new Map<string, Generation & { aliases: string[] }>();
    for (const [name, description] of Object.entries(body ?? {})) {
      const meta = description.mappings?._meta?.cdcCache;
      if (!meta || meta.index !== index) continue;
      generations.set(name, {
        name,
        writeAlias: generationNames.write(name),
        floor: BigInt(meta.floor),
        meta,
        aliases: Object.keys(description.aliases ?? {}),
      });
    }
    return generations;
  }

  private targetsOf(generations: Map<string, Generation & { aliases: string[] }>): Targets | null {
    const { index } = this.options;
    let current: Generation | null = null;
    const building: Generation[] = [];
    for (const generation of generations.values()) {
      if (generation.aliases.includes(index)) current = generation;
      else if (generation.aliases.includes(generationNames.building(index))) building.push(generation);
    }
    return current === null ? null : { current, building };
  }

  private remember(targets: Targets): void {
    this.cached = { targets, at: Date.now() };
  }

  /** Generations that are neither current nor building, and can no longer become current. */
  private async removeLeftovers(
    generations: Map<string, Generation & { aliases: string[] }>,
    targets: Targets,
  ): Promise<void> {
    for (const generation of generations.values()) {
      if (generation.name === targets.current.name) continue;
      if (targets.building.some((building) => building.name === generation.name)) continue;
      // A truncate generation above the current floor may be about to become current.
      if (generation.meta.kind === 'truncate' && generation.floor > targets.current.floor) continue;
      await this.deleteIndex(generation.name);
    }
  }

  private async refuseForeignIndex(): Promise<void> {
    const { index } = this.options;
    const { status } = await this.es.request('HEAD', `/${index}`, undefined, { accept: [200, 404] });
    if (status === 200) {
      throw new GenerationError(
        `search index ${index} already exists and was not created by the search-indexer (it keeps each index as an alias over generations); delete it or choose another name in search.indexes`,
      );
    }
  }

  /** Creates a generation; false when it already exists. */
  private async create(
    name: string,
    floor: bigint,
    kind: GenerationMeta['kind'],
    aliases: Record<string, unknown>,
    extra: Partial<GenerationMeta> = {},
  ): Promise<boolean> {
    const meta: GenerationMeta = {
      index: this.options.index,
      table: this.options.table,
      floor: floor.toString(),
      kind,
      createdAt: new Date().toISOString(),
      ...extra,
    };
    try {
      await this.es.request('PUT', `/${name}`, {
        settings: this.options.settings ?? {},
        mappings: { ...this.options.mappings(), _meta: { cdcCache: meta } },
        aliases: { [generationNames.write(name)]: {}, ...aliases },
      });
      return true;
    } catch (error) {
      if (error instanceof ElasticsearchError && error.type === 'resource_already_exists_exception') {
        return false;
      }
      throw error;
    }
  }

  /** Moves the read alias from `from` to `to` if it is still on `from`, in one atomic request. */
  private async swapAlias(from: string, to: string, more: object[]): Promise<boolean> {
    const { index } = this.options;
    try {
      await this.es.request('POST', '/_aliases', {
        actions: [
          { remove: { index: from, alias: index, must_exist: true } },
          { add: { index: to, alias: index, filter: LIVE_DOCUMENTS_FILTER } },
          ...more,
        ],
      });
      return true;
    } catch (error) {
      if (error instanceof ElasticsearchError && error.status === 404) return false;
      throw error;
    }
  }
}
