/*
 * Simulated kmem caches: every structure a design allocates goes through a Slab, which counts
 * live objects per kind, charges their size on ILP32 and LP64, and poisons what is freed.
 * This gives each design its memory accounting and the leak check (I9) for free.
 */
import { type Allocator, neverFails } from "./alloc.js";
import { assert, isFreed, poison } from "./assert.js";

/** Bytes of one structure on a 32-bit (i386) and a 64-bit (x86_64) kernel. */
export interface StructSize {
  readonly ilp32: number;
  readonly lp64: number;
}

export interface Memory {
  ilp32: number;
  lp64: number;
}

export interface SlabUsage {
  readonly kind: string;
  readonly size: StructSize;
  readonly live: number;
  readonly allocated: number;
  readonly peakLive: number;
}

export class Slab {
  private readonly live = new Map<string, number>();
  private readonly allocated = new Map<string, number>();
  private readonly peak = new Map<string, number>();
  private liveBytes32 = 0;
  private liveBytes64 = 0;
  private peakBytes32 = 0;
  private peakBytes64 = 0;

  /** The kernel's allocator (impl/alloc.ts), set when the design joins a kernel. */
  allocator: Allocator = neverFails;

  constructor(readonly sizes: Readonly<Record<string, StructSize>>) {}

  /**
   * kernel: kmem_cache_alloc(). May fail (AllocFailure) before anything is counted: call it
   * before the object is linked anywhere.
   */
  alloc<T extends object>(kind: string, obj: T): T {
    this.allocator.allocate(kind);
    return this.charge(kind, obj);
  }

  /**
   * Account a structure that is not allocated on its own (fields a design adds to struct
   * vm_area_struct): charged like an allocation, never fails.
   */
  charge<T extends object>(kind: string, obj: T): T {
    const size = this.sizes[kind];
    assert(size !== undefined, "KERNEL", () => `slab: unknown structure kind ${kind}`);
    const n = (this.live.get(kind) ?? 0) + 1;
    this.live.set(kind, n);
    this.allocated.set(kind, (this.allocated.get(kind) ?? 0) + 1);
    if (n > (this.peak.get(kind) ?? 0)) this.peak.set(kind, n);
    this.liveBytes32 += size.ilp32;
    this.liveBytes64 += size.lp64;
    if (this.liveBytes32 > this.peakBytes32) this.peakBytes32 = this.liveBytes32;
    if (this.liveBytes64 > this.peakBytes64) this.peakBytes64 = this.liveBytes64;
    return obj;
  }

  /** kernel: kmem_cache_free(). `where` names the freeing site for use-after-free reports. */
  free(kind: string, obj: object, where: string): void {
    assert(!isFreed(obj), "I4", () => `double free of a ${kind} at ${where}`, obj);
    const size = this.sizes[kind];
    const n = this.live.get(kind) ?? 0;
    assert(size !== undefined && n > 0, "KERNEL", () => `slab: free of ${kind} with none live`);
    this.live.set(kind, n - 1);
    this.liveBytes32 -= size.ilp32;
    this.liveBytes64 -= size.lp64;
    poison(obj, kind, where);
  }

  liveCount(kind?: string): number {
    if (kind !== undefined) return this.live.get(kind) ?? 0;
    let total = 0;
    for (const n of this.live.values()) total += n;
    return total;
  }

  allocatedCount(kind?: string): number {
    if (kind !== undefined) return this.allocated.get(kind) ?? 0;
    let total = 0;
    for (const n of this.allocated.values()) total += n;
    return total;
  }

  memory(): Memory {
    return { ilp32: this.liveBytes32, lp64: this.liveBytes64 };
  }

  peakMemory(): Memory {
    return { ilp32: this.peakBytes32, lp64: this.peakBytes64 };
  }

  usage(): SlabUsage[] {
    return Object.entries(this.sizes).map(([kind, size]) => ({
      kind,
      size,
      live: this.live.get(kind) ?? 0,
      allocated: this.allocated.get(kind) ?? 0,
      peakLive: this.peak.get(kind) ?? 0,
    }));
  }
}
