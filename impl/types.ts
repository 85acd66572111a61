/*
 * The simulated kernel's structures, in kernel vocabulary with TypeScript casing (STYLE 3).
 * Field comments give the equation each field satisfies.
 */

/** Page frame number: an index into the frame pool. */
export type Pfn = number & { readonly __brand: "Pfn" };
/** Virtual page number inside one mm. */
export type Vpn = number & { readonly __brand: "Vpn" };
/** Offset in pages: into a file (file vmas) or the linear anon space (anon vmas). */
export type Pgoff = number & { readonly __brand: "Pgoff" };
/** A swap slot. */
export type SwapSlot = number & { readonly __brand: "SwapSlot" };

export const pfn = (n: number) => n as Pfn;
export const vpn = (n: number) => n as Vpn;
export const pgoff = (n: number) => n as Pgoff;

/** vm_flags bits that matter here (mm.h). */
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_SHARED = 0x8;
export const VM_LOCKED = 0x2000;
/**
 * exec's temporary stack (include/linux/mm.h: VM_RAND_READ | VM_SEQ_READ on a VM_GROWSDOWN
 * vma, "an otherwise impossible combination", a8bef8ff6ea1): set from the stack's creation
 * until setup_arg_pages() has moved it; try_to_migrate() skips such vmas (impl/exec.ts).
 */
export const VM_STACK_INCOMPLETE_SETUP = 0x30000;

/** struct page flags (page-flags.h). */
export const PG_locked = 0x1;
export const PG_dirty = 0x2;
export const PG_anon = 0x4; // kernel: PageAnon(), the PAGE_MAPPING_ANON tag of page->mapping
export const PG_swapcache = 0x8;

export interface PresentPte {
  readonly kind: "present";
  pfn: Pfn;
  writable: boolean;
  dirty: boolean;
  young: boolean;
}
export interface SwapPte {
  readonly kind: "swap";
  slot: SwapSlot;
}
export type Pte = PresentPte | SwapPte;

let nextObjectId = 1;

/**
 * Object ids (vma#N, page oids in messages) restart with every kernel, so that a replay prints
 * the same trace however many kernels the process built before it.
 */
export function resetObjectIds(): void {
  nextObjectId = 1;
}

export class Mm {
  /** Sorted by vmStart, pairwise disjoint. */
  vmas: Vma[] = [];
  /** The page table: virtual page → PTE. */
  readonly pt = new Map<number, Pte>();
  /** Design-private per-mm data (anonmm's struct anonmm). */
  rmap: unknown = undefined;
  constructor(readonly id: number) {}
}

export class File {
  /** Size in pages: pages at pgoff >= size do not exist (SIGBUS). */
  size: number;
  /** The backing store: written-back contents by pgoff (absent = zero). */
  readonly disk = new Map<number, number>();
  /** The page cache: pgoff → page (kernel: address_space->i_pages). */
  readonly pageCache = new Map<number, Page>();
  /** The address_space's i_mmap: set by the kernel from the design's choice of structure. */
  iMmap!: IMmap;
  constructor(
    readonly id: number,
    size: number,
  ) {
    this.size = size;
  }
}

/**
 * i_mmap: the vmas mapping a file (list, priority search tree or interval tree). The kernel
 * inserts at vma link, removes at unlink, and wraps every change of vm_start / vm_end /
 * vm_pgoff in `adjust` (kernel: vma_prepare() / vma_complete()).
 */
export interface IMmap {
  insert(vma: Vma): void;
  remove(vma: Vma): void;
  /** Remove, let `change` rewrite the vma's range, re-insert (I11). */
  adjust(vma: Vma, change: () => void): void;
  /** Visit every vma whose [vmPgoff, vmPgoff + pages - 1] meets [first, last]. */
  query(first: number, last: number, visit: (vma: Vma) => boolean | undefined): void;
  size(): number;
  /** Optional: every vma on it, in the structure's order, without counting visits (for views). */
  items?(): Vma[];
  /** Structural self-check, including I11 (keys equal the vmas' current ranges). */
  check(): void;
  /** Bytes of tree/list nodes beyond the vma itself. */
  readonly nodeSize: { ilp32: number; lp64: number };
}

export class Vma {
  readonly oid = nextObjectId++;
  vmStart: number;
  /** Exclusive. */
  vmEnd: number;
  /** For file vmas the file offset of vmStart; for anon vmas the linear anon offset. */
  vmPgoff: number;
  vmFlags: number;
  /** Design-private anon object (anon_vma); null until the first anon page (anon_vma_prepare). */
  anonVma: unknown = null;
  /** Design-private per-vma data (anon_vma_chain list, interval-tree node...). */
  rmap: unknown = undefined;
  constructor(
    readonly mm: Mm,
    start: number,
    end: number,
    pgoff: number,
    flags: number,
    readonly vmFile: File | null,
  ) {
    this.vmStart = start;
    this.vmEnd = end;
    this.vmPgoff = pgoff;
    this.vmFlags = flags;
  }
  get pages(): number {
    return this.vmEnd - this.vmStart;
  }
  get lastPgoff(): number {
    return this.vmPgoff + this.vmEnd - this.vmStart - 1;
  }
  toString(): string {
    return `vma#${this.oid}[${hexa(this.vmStart)}, ${hexa(this.vmEnd)}) of mm${this.mm.id}`;
  }
}

export class Page {
  readonly oid = nextObjectId++;
  flags = 0;
  /** File page: its File; anon page: the design's anon object (anon_vma, anonmm, vma...). */
  mapping: unknown = null;
  /** File page: file pgoff; anon page: linear index (anonmm: virtual address). */
  index = 0;
  /** Number of PTEs mapping this page (I3). The kernel keeps it, not the design. */
  mapcount = 0;
  /** References: mapcount + 1 if in the page cache + 1 if in the swap cache (I8). */
  count = 0;
  /** Swap slot while in the swap cache (page->private). */
  private: SwapSlot | null = null;
  /** Design-private per-page data (pte_chain head, PageDirect vma, hint...). */
  rmap: unknown = undefined;
  /** The file page's file, for the kernel (mapping may be the design's for anon pages). */
  file: File | null = null;
  constructor(readonly pfn: Pfn) {}
  get anon(): boolean {
    return (this.flags & PG_anon) !== 0;
  }
  toString(): string {
    return `page pfn ${this.pfn}${this.anon ? " (anon)" : this.file ? ` (file${this.file.id}@${this.index})` : ""}`;
  }
}

export const hexa = (n: number) => `0x${n.toString(16)}`;

/** kernel: linear_page_index() */
export const linearPageIndex = (vma: Vma, addr: number): number => addr - vma.vmStart + vma.vmPgoff;

/** kernel: vma_address(); undefined when the page's index falls outside the vma. */
export function vmaAddress(page: Page, vma: Vma): number | undefined {
  const addr = vma.vmStart + (page.index - vma.vmPgoff);
  return addr >= vma.vmStart && addr < vma.vmEnd ? addr : undefined;
}
