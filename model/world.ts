/*
 * The small world every run lives in: named bounds shared by the model, the simulated kernel
 * and the generator (STYLE item 7). Small on purpose: few frames so that reclaim happens
 * often, few pages so that mappings collide, splits and merges are common.
 */

export interface World {
  /** Virtual pages [0, vpnLimit) exist; page 0 is never handed out by address search (NULL). */
  readonly vpnLimit: number;
  /** Lowest address the kernel's address search (get_unmapped_area) returns. */
  readonly mmapBase: number;
  /** Number of files, file0 .. file{fileCount-1}. */
  readonly fileCount: number;
  /** Every file starts with this many pages of content. */
  readonly fileInitialPages: number;
  /** truncate may set a file's size to at most this many pages. */
  readonly fileMaxPages: number;
  /** Page frames in the simulated machine: small, so reclaim runs under pressure. */
  readonly frameCount: number;
  /** Most processes alive at once (a generator bound; the kernel itself has none). */
  readonly mmLiveMax: number;
  /**
   * Order of the large anonymous folios a folio design (DESIGN+folio-6.14 / -6.15) allocates
   * at write faults: 2^order pages mapped by one PMD (impl/folio.ts). Unset: 2 for those
   * designs; the other designs map order-0 pages whatever it says.
   */
  readonly folioOrder?: number;
  /**
   * mTHP (folio designs only): the orders below folioOrder that an anonymous write fault may
   * allocate and map with PTEs when no PMD-order folio fits (alloc_anon_folio(), 6.8+;
   * impl/folio.ts mthpFault). Unset or empty: none, a fault that cannot map a PMD maps one page.
   */
  readonly mthpOrders?: readonly number[];
  /**
   * File large folios (folio designs only): the page cache reads a file in naturally aligned
   * folios of folioOrder where the whole folio lies below the file's size, and a fault may
   * map one by PMD (do_set_pmd()) where vma and file offset are aligned (impl/folio-file.ts).
   * Unset or false: page-cache pages are order 0.
   */
  readonly fileFolios?: boolean;
}

export const defaultWorld: World = {
  vpnLimit: 32,
  mmapBase: 1,
  fileCount: 2,
  fileInitialPages: 8,
  fileMaxPages: 12,
  frameCount: 6,
  mmLiveMax: 6,
};

/**
 * The initial content of page `pgoff` of file `file`: negative and distinct from every
 * token a write can store (writes store positive tokens), so a misplaced page shows.
 */
export const initialFileToken = (file: number, pgoff: number): number => -(1000 * (file + 1) + pgoff);

/** The first process of every run. */
export const initMm = 1;

/**
 * exec (docs/semantics.md): the temporary stack is built below vpnLimit (STACK_TOP_MAX) and
 * moved down by this many pages (shift_arg_pages' stack_shift), so the stack of n argument
 * pages ends up at [vpnLimit - execStackShift - n, vpnLimit - execStackShift). With n up to
 * execArgPagesMax, the old and new ranges overlap for n > execStackShift, as they may in Linux.
 */
export const execStackShift = 2;
/** Most argument pages an exec takes (Linux: MAX_ARG_STRLEN and the stack rlimit). */
export const execArgPagesMax = 3;
/** Where exec's final stack ends (exclusive): stack_top. */
export const execStackTop = (w: World): number => w.vpnLimit - execStackShift;
