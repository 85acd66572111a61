/*
 * The mutant catalogue: each entry reintroduces one known bug — a design-level weakness from
 * primer §6 or a real kernel bug — as a planted one-line change of a design (its `mutants`
 * list) or of the kernel (Kernel.quirks), with its story and its known minimal sequence as
 * data. `rmapcheck hunt` searches for each one at random, without this sequence; the sequence
 * itself runs as a known-answer test (fails on the mutant, passes on the correct design).
 */
import type { Cmd, Op } from "../../model/commands.js";

export interface MutantEntry {
  /** Primer id (D1–D4, B1, B4, B5, B9) or H1… for bugs from the kernel's history. */
  readonly id: string;
  /** The design the bug lives in, as `rmapcheck run --design` names it. */
  readonly design: string;
  /** The design's planted mutant, if the bug is a one-line change of the design. */
  readonly mutant?: string;
  /** Kernel quirks (impl/kernel.ts), if the bug is in mm/ rather than the rmap design. */
  readonly quirks?: readonly string[];
  /** The correct design the known sequence must pass on. */
  readonly correct: string;
  readonly title: string;
  /** Kernel commit, CVE or seed, and what the bug did. */
  readonly story: string;
  /** The invariants that may catch it first. */
  readonly invariants: readonly string[];
  /** A known short sequence that exposes it (hand-written or shrunk once and kept). */
  readonly minimal: readonly Cmd[];
  /** Found fast enough to hunt in `npm test`. */
  readonly quick: boolean;
  /**
   * A bug on an error path: the probability of a failure point per command with which it is
   * hunted (`run --fail-alloc`); its known sequence carries its failure point as data.
   */
  readonly failAlloc?: number;
  /**
   * A race (impl/interleave.ts): the probability with which a MREMAP_FIXED move, an exec or a
   * munmap races an rmap walker when it is hunted (`run --interleave`); its known sequence
   * carries its schedule.
   */
  readonly interleave?: number;
  /** A race: the commands that race when it is hunted (absent: mremap, fork and truncate). */
  readonly raceOps?: readonly Op[];
}

const anon = (mm: number, addr: number, len: number): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot: "rw", fixed: true });

const w = (mm: number, addr: number, token: number): Cmd => ({ op: "write", mm, addr, token });
const fork = (mm: number, child: number): Cmd => ({ op: "fork", mm, child });

/**
 * A page moved away and moved back: copy_vma() merges it into its old neighbour (visited
 * first by the walk, need_rmap_locks true) while migration walks it, by `schedule`.
 *
 *   0x4 0x5            0x10           0x4 0x5
 *   [a | b]  mremap →  [a] .. [b]  ←  [a   b]  (b's vma merged into a's, racing migrate(b))
 */
const mergeBackRace = (schedule: number[]): readonly Cmd[] => [
  anon(1, 4, 2),
  w(1, 5, 2),
  { op: "mremap", mm: 1, addr: 5, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 16 },
  { op: "mremap", mm: 1, addr: 16, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 5, race: { walker: "migrate", mm: 1, addr: 16, schedule } },
];

/** A read-only vma without an anon_vma below a written one; mprotect makes the lower absorb the upper. */
const importMerge: readonly Cmd[] = [
  { op: "mmap", mm: 1, addr: 1, len: 1, kind: "anon", prot: "r", fixed: true },
  anon(1, 2, 1),
  w(1, 2, 1),
  { op: "mprotect", mm: 1, addr: 2, len: 1, prot: "r" },
];

/** The same four commands with the mprotect's n-th allocation failing (dup_anon_vma, then the maple tree). */
const importMergeFailing = (n: number): readonly Cmd[] => [...importMerge.slice(0, 3), { ...(importMerge[3] as Cmd), failAlloc: n } as Cmd];

export const catalogue: MutantEntry[] = [
  {
    id: "P0",
    design: "scan",
    mutant: "skip-newest-mm",
    correct: "scan",
    title: "scan's walk skips the newest mm",
    story: "A planted bug with no kernel history: the brute-force walk forgets the most recently forked process.",
    invariants: ["I1"],
    minimal: [anon(1, 1, 1), w(1, 1, 1), fork(1, 2)],
    quick: true,
  },
  {
    id: "D1",
    design: "anon-vma-rfc",
    correct: "anon-vma",
    title: "anon-vma-rfc: a PageDirect page points at a vma struct that a split freed",
    story:
      "Andrea Arcangeli's anon_vma RFC (10 March 2004, seed 004): a never-forked anon page holds a raw vma pointer; split, merge and mremap replace vma structs (Hugh's rmap 39: \"a page cannot point directly to its vma(s)\"). The design itself is the flaw; 2.6.7 gave every anon vma an anon_vma instead.",
    invariants: ["I4", "I1", "I2"],
    minimal: [anon(1, 1, 2), w(1, 1, 1), { op: "mmap", mm: 1, addr: 2, len: 1, kind: "anon", prot: "r", fixed: true }],
    quick: true,
  },
  {
    id: "D2",
    design: "anonmm",
    mutant: "no-cow-break-on-mremap",
    correct: "anonmm",
    title: "anonmm moves a COW-shared page without breaking COW",
    story:
      "Hugh Dickins's anonmm (rmap 10-11, April 2004) finds a page at the same virtual address in every mm of the family; mremap of a shared page must COW-break it first (\"mremap moved N cows\"). Without that, the moved PTE is at an address no walk looks at.",
    invariants: ["I1"],
    minimal: [anon(1, 1, 3), w(1, 3, 1), fork(1, 2), { op: "mremap", mm: 1, addr: 3, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 4 }],
    quick: false,
  },
  {
    id: "D3",
    design: "pte-chain",
    mutant: "lose-old-entry-on-direct-to-chain",
    correct: "pte-chain",
    title: "pte-chain loses the direct entry when converting to a chain",
    story:
      "2.5.27-2.6.0 pte_chains: a page with one mapping keeps it PG_direct in struct page; the second mapping (here the PTE copied at fork) converts it to a chain block holding both. Forgetting to copy the direct entry into the block loses the first mapping.",
    invariants: ["I1", "I2"],
    minimal: [anon(1, 1, 1), w(1, 1, 1), fork(1, 2)],
    quick: true,
  },
  {
    id: "D4",
    design: "objrmap-interval-tree",
    mutant: "no-reinsert-on-adjust",
    correct: "objrmap-interval-tree",
    title: "i_mmap interval tree not updated when a vma's range changes",
    story:
      "Since 2.6.7 (prio tree) and 3.7 (interval tree, 6b2dbba8b6ac) i_mmap is keyed by each vma's pgoff range; vma_adjust must remove the vma before changing vm_start/vm_end/vm_pgoff and re-insert it after (vma_prepare/vma_complete today). Skipping that leaves a stale key: walks miss the vma.",
    invariants: ["I11", "I1"],
    minimal: [
      { op: "mmap", mm: 1, addr: 1, len: 4, kind: "private-file", prot: "rw", fixed: true, file: 1, pgoff: 0 },
      { op: "mremap", mm: 1, addr: 4, len: 1, newLen: 2, maymove: false, fixed: false },
    ],
    quick: true,
  },
  {
    id: "D4p",
    design: "objrmap-prio-tree",
    mutant: "no-reinsert-on-adjust",
    correct: "objrmap-prio-tree",
    title: "i_mmap priority search tree not updated when a vma's range changes",
    story: "D4 for the 2.6.7-3.6 radix priority search tree (vma_prio_tree_remove / vma_prio_tree_insert around vma_adjust).",
    invariants: ["I11", "I1"],
    minimal: [
      { op: "mmap", mm: 1, addr: 1, len: 4, kind: "private-file", prot: "rw", fixed: true, file: 1, pgoff: 0 },
      { op: "mremap", mm: 1, addr: 4, len: 1, newLen: 2, maymove: false, fixed: false },
    ],
    quick: true,
  },
  {
    id: "B9",
    design: "anon-vma",
    quirks: ["merge-next-keeps-pgoff"],
    correct: "anon-vma",
    title: "a merge that expands next downwards lowers vm_start but not vm_pgoff",
    story:
      "Linux 6.3 (fix 7e7757876f25 per the primer): vma_merge expanding the next vma down over a range moved by mremap set vm_start without vm_pgoff, so linear_page_index no longer matched page->index (I7) and the walk computed the wrong address (I1).",
    // A private file vma merged this way also reads the wrong file offsets: SEMANTIC can come first.
    invariants: ["I7", "I1", "I11", "SEMANTIC"],
    minimal: [
      { op: "mmap", mm: 1, addr: 10, len: 4, kind: "anon", prot: "rw", fixed: true },
      w(1, 10, 1),
      w(1, 11, 2),
      { op: "mremap", mm: 1, addr: 11, len: 3, newLen: 3, maymove: true, fixed: true, newAddr: 21 },
      { op: "mremap", mm: 1, addr: 10, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 20 },
    ],
    quick: true,
  },
  {
    id: "H1",
    design: "anon-vma",
    quirks: ["copy-merge-without-dup"],
    correct: "anon-vma",
    title: "mremap's copy merges into a neighbour without an anon_vma, which never adopts it",
    story:
      "CVE-2026-23077 planted in the 2.6.7 design, whose merge test lets a moved range join a neighbour without an anon_vma. Linux 6.16 (879bca0a2c4f, Lorenzo Stoakes, \"mm/vma: fix incorrectly disallowed anonymous VMA merges\") let copy_vma merge a moved range into a neighbour that has no anon_vma; vma_expand() did not duplicate the moved range's anon_vma into it until 61f67c230a5e (\"mm/vma: fix anon_vma UAF on mremap() faulted, unfaulted merge\", 6.19, 6.18.8), which calls dup_anon_vma(target, copied_from). The merge without the dup leaves pages whose anon_vma no vma reaches. H5 is the same bug in the design 6.16 really has (anon-vma-chain-6.16).",
    invariants: ["I1", "I4", "I6"],
    minimal: [
      anon(1, 10, 2),
      w(1, 10, 1),
      { op: "mremap", mm: 1, addr: 10, len: 2, newLen: 2, maymove: true, fixed: true, newAddr: 20 },
      anon(1, 8, 2),
      { op: "mremap", mm: 1, addr: 20, len: 2, newLen: 2, maymove: true, fixed: true, newAddr: 10 },
    ],
    quick: false,
  },
  {
    id: "H2",
    design: "anon-vma",
    quirks: ["wp-reuse-ignores-swap"],
    correct: "anon-vma",
    title: "COW reuse of a swap-cache page that another process's swap entry still references",
    story:
      "do_wp_page() may reuse an anonymous page in place only if nothing else can map it; mapcount alone is not enough while other PTEs are swap entries for the same swap-cache page. Wrong reuse decisions of this class are CVE-2020-29374 (fixed by \"mm: do_wp_page() simplification\", 5.8) and the later folio reuse rework: the writer's data leaks into the other process's copy.",
    invariants: ["SEMANTIC"],
    minimal: [
      anon(1, 1, 1),
      w(1, 1, 1),
      fork(1, 2),
      { op: "swapout", mm: 1, addr: 1 },
      { op: "read", mm: 1, addr: 1 },
      w(1, 1, 2),
      { op: "read", mm: 2, addr: 1 },
    ],
    quick: false,
  },
  {
    id: "B1",
    design: "anon-vma-chain-3.19",
    correct: "anon-vma-chain",
    title: "CVE-2022-42703: 3.19's degree-based anon_vma reuse",
    story:
      "3.19 (\"mm: prevent endless growth of anon_vma hierarchy\") reused at fork an anon_vma from the chain with degree < 2, degree counting children and active vmas together; an anon_vma with one live vma and no child looked abandoned. Two vmas then share an anon_vma with different chains (I5); a merge drops a chain (I6/I1) and an exit frees an anon_vma still mapped (I4). Fix 2555283eb40d (5.19.7/6.0) splits degree into num_children and num_active_vmas. This sequence was found by random search (seed 2) and shrunk; the primer's longer one that reaches I1 and I4 is a known-answer test of the design.",
    invariants: ["I5", "I6", "I1", "I4"],
    minimal: [anon(1, 1, 1), w(1, 1, 1), fork(1, 2), fork(2, 3), { op: "exit", mm: 2 }, fork(3, 4), fork(4, 5), fork(4, 6), { op: "exit", mm: 3 }, fork(6, 7)],
    quick: false,
  },
  {
    id: "B4",
    design: "anon-vma-chain",
    mutant: "b4-youngest-anon-vma",
    correct: "anon-vma-chain",
    title: "a non-exclusive swap-in page gets the child's youngest anon_vma",
    story:
      "2.6.34-rc (fix ea90002b0fa7, \"anonvma: when setting up page->mapping, we need to pick the _oldest_ anonvma\"): a swap-cache page faulted in first by a child was tagged with the child's own anon_vma, which the parent's vma cannot reach; once the child exits the anon_vma is freed under a page the parent maps.",
    invariants: ["I1", "I6", "I4"],
    minimal: [anon(1, 1, 1), w(1, 1, 1), fork(1, 2), { op: "swapout", mm: 1, addr: 1 }, { op: "read", mm: 2, addr: 1 }, { op: "read", mm: 1, addr: 1 }, { op: "exit", mm: 2 }],
    quick: false,
  },
  {
    id: "B5",
    design: "anon-vma-chain",
    mutant: "b5-prepare-reuses-nonsingular",
    correct: "anon-vma-chain",
    title: "anon_vma_prepare reuses a neighbour's anon_vma whose chain is not singular",
    story:
      "2.6.34-rc (fix d0e9fe1758f2): find_mergeable_anon_vma() may hand a new vma its neighbour's anon_vma only if the neighbour's chain is singular; reusing a forked neighbour's gives the new vma a one-element chain under an anon_vma whose other users have longer chains (I5), and a later merge drops a chain (I6, then I4).",
    invariants: ["I5", "I6", "I1", "I4"],
    minimal: [anon(1, 1, 1), w(1, 1, 1), fork(1, 2), anon(2, 2, 1), w(2, 2, 2)],
    quick: false,
  },
  {
    id: "H3",
    design: "anon-vma-chain",
    quirks: ["merge-import-from-vma-only"],
    correct: "anon-vma-chain",
    title: "a lower vma expanding over next's pages does not join next's anon_vma",
    story:
      "2.6.34-rc1..rc3: after the switch to anon_vma chains (5beb49305251), vma_adjust() cloned into an importer without an anon_vma only from `vma` itself, so when the lower vma grew over the next one (a merge removing next, or mprotect moving the boundary up) the pages it imported kept an anon_vma its chain did not hold; unlinking next then freed that anon_vma under them. Linus Torvalds's \"vma_adjust: fix the copying of anon_vma chains\" (287d97ac0321, 2.6.34-rc4) names the exporter; the regression hunt is LWN's \"The case of the overly anonymous anon_vma\" (April 2010).",
    invariants: ["I6", "I4", "I1"],
    minimal: importMerge,
    quick: true,
  },
  {
    id: "H4",
    design: "anon-vma-chain-3.19",
    mutant: "clone-before-assign",
    correct: "anon-vma-chain",
    title: "vma_adjust clones the exporter's chain before setting the importer's anon_vma",
    story:
      "3.19-rc1..rc3: 7a3ef208e662 made anon_vma_clone() treat a destination without an anon_vma as a fork child that may reuse an ancestor; vma_adjust() still set importer->anon_vma only after the clone, so the degree was counted on a reused ancestor (or on nothing) and the exporter's anon_vma was one vma short, until unlink_anon_vmas() hit BUG_ON(anon_vma->degree) (\"kernel BUG at mm/rmap.c:399\"). Fixed by b800c91a0517 \"mm: fix corner case in anon_vma endless growing prevention\" (Konstantin Khlebnikov, 3.19-rc4). The design's I8 check (degree = children + active vmas) catches it at the merge.",
    invariants: ["I8"],
    minimal: importMerge,
    quick: true,
  },
  {
    id: "B2",
    design: "anon-vma-chain-3.19",
    mutant: "b2-clone-error-keeps-anon-vma",
    correct: "anon-vma-chain-3.19",
    title: "anon_vma_clone's error path uncounts a dst->anon_vma it never counted (degree underflow)",
    story:
      "3.19 (7a3ef208e662) counted in anon_vma->degree the vmas using an anon_vma, incremented at the end of a successful anon_vma_clone() and decremented by unlink_anon_vmas(). When a chain object allocation failed, the clone's enomem_failure path called unlink_anon_vmas(dst) with dst->anon_vma still set (copied by __split_vma, or reused at fork), decrementing a degree it had never incremented. Leon Yu's 3fe89b3e2a7b (\"mm: fix anon_vma->degree underflow in anon_vma endless growing prevention\", 4.0) sets dst->anon_vma = NULL first. Here the split of a munmap fails at its second allocation (the vma is the first, the chain object the second).",
    invariants: ["I8"],
    minimal: [anon(1, 1, 2), w(1, 2, 1), { op: "munmap", mm: 1, addr: 2, len: 1, failAlloc: 2 }],
    quick: true,
    failAlloc: 0.6,
  },
  {
    id: "B12",
    design: "anon-vma-chain",
    mutant: "b12-dup-keeps-anon-vma",
    correct: "anon-vma-chain",
    title: "dup_anon_vma sets ->anon_vma before the clone that can fail (sequential part)",
    story:
      "dup_anon_vma() assigned dst->anon_vma = src->anon_vma before anon_vma_clone(); until the clone failed and reset it, a page fault under the per-VMA lock could install pages in dst under an anon_vma dst's chain did not hold, and that anon_vma could later be freed under them (use-after-free). Jann Horn's d8ab9f7b644a (\"mm: lock VMA in dup_anon_vma() before setting ->anon_vma\", 6.5) write-locks dst first. The race itself needs the interleaving mode; its sequential part is the state it leaves: the mutant keeps the assignment when the clone fails, so dst holds an anon_vma it is not chained to (I6) and a fault there maps pages under it. Here the lower, never-faulted vma absorbs the upper one and the clone's chain object allocation (the first) fails.",
    invariants: ["I6", "I4", "I8"],
    minimal: importMergeFailing(1),
    quick: false,
    failAlloc: 0.6,
  },
  {
    id: "B13",
    design: "anon-vma-chain",
    quirks: ["merge-abort-keeps-dup"],
    correct: "anon-vma-chain",
    title: "a merge that fails after dup_anon_vma keeps the duplicated chain",
    story:
      "Since the maple tree (d4af56c5c7c6, 6.1) vma_merge() preallocates tree nodes after dup_anon_vma() has given the expanding vma the other vma's anon_vma and chain; when the preallocation failed it returned without undoing that, leaving rmap objects the failed merge had allocated (\"users may experience increased memory usage\"). Liam Howlett's 824135c46b00 (\"mmap: fix error paths with dup_anon_vma()\", 6.6) adds unlink_anon_vmas(anon_dup) to the error paths. rmapcheck asserts after a failed split or merge that it freed what it allocated (I9). Here the chain object is the mprotect's first allocation and the maple-tree preallocation its second.",
    invariants: ["I9"],
    minimal: importMergeFailing(2),
    quick: false,
    failAlloc: 0.6,
  },
  {
    id: "H5",
    design: "anon-vma-chain",
    mutant: "fork-error-keeps-chain",
    correct: "anon-vma-chain",
    title: "anon_vma_fork's error path forgets unlink_anon_vmas: the child vma's chain outlives it",
    story:
      "rmapcheck's own planted bug on an error path the kernel gets right: when anon_vma_fork() has cloned the parent's chain into the child vma and then fails to allocate the child's own anon_vma or its chain object, its out_error label calls unlink_anon_vmas(vma), because dup_mmap() frees the vma with vm_area_free() alone. Without it the chain objects stay on the parent's anon_vma trees pointing at a freed vma: the next walk or check touches freed memory (I4), and they are never freed (I8, I9). Here the fork's allocations are the mm, the maple tree, the vma, the cloned chain object, then the anon_vma, which fails.",
    invariants: ["I4", "I8", "I9"],
    minimal: [anon(1, 1, 1), w(1, 1, 1), { op: "fork", mm: 1, child: 2, failAlloc: 5 }],
    quick: true,
    failAlloc: 0.6,
  },
  {
    id: "H6",
    design: "anon-vma-chain-6.16",
    mutant: "pre-61f67c230a5e",
    correct: "anon-vma-chain-6.16",
    title: "CVE-2026-23077: mremap merges a faulted range into an unfaulted neighbour that never adopts its anon_vma",
    story:
      "Linux 6.16 (879bca0a2c4f, Lorenzo Stoakes, \"mm/vma: fix incorrectly disallowed anonymous VMA merges\") lets a merge proceed when the target has no anon_vma and the source has one whose vma is no fork child; for mremap's copy_vma the source is a proposed range (vmg->middle is NULL), so a moved faulted range merges into an unfaulted neighbour. vma_expand() duplicated anon_vma state only from a `next` it removed, so in the fix's cases 1-3 (prev, next or both unfaulted) the expanded vma got no anon_vma and no chain; unmapping the source then freed the anon_vma under the moved pages (syzbot; affected 6.16.0 to 6.18.7). Fix 61f67c230a5e (\"mm/vma: fix anon_vma UAF on mremap() faulted, unfaulted merge\", 6.19, 6.18.8) adds vma_merge_copied_range() and vmg->copied_from and makes vma_expand() call dup_anon_vma(target, copied_from); the series also refuses such merges when copied_from is a fork child. The mutant is the 6.16.0 code: neither. The known sequence was found by random search (seed 1) and shrunk: case 1 on a private file mapping, whose moved half gets an anon_vma from a COW write and merges back into the unfaulted lower half; issue 16's anonymous try (case 2, 5 commands) is a known-answer test of the design.",
    invariants: ["I4", "I1", "I6"],
    minimal: [
      { op: "mmap", mm: 1, addr: 1, len: 2, kind: "private-file", prot: "rw", fixed: true, file: 0, pgoff: 0 },
      { op: "mremap", mm: 1, addr: 2, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 9 },
      w(1, 9, 1),
      { op: "mremap", mm: 1, addr: 9, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 2 },
    ],
    quick: false,
  },
  {
    id: "B8",
    design: "anon-vma-chain",
    quirks: ["need-rmap-locks-false"],
    correct: "anon-vma-chain",
    title: "mremap moves PTEs without the rmap locks while a walk visits the destination before the source",
    story:
      "move_ptes() may move a PTE between a walk's visit of the destination vma and its visit of the source: the walk then finds the PTE in neither place. Before 3.7 the anon_vma list's order was the guarantee (the new vma is linked at the tail, after the source); a copy_vma() that merged the destination into an earlier neighbour broke it, and migration left a migration entry behind (remove_migration_ptes() missed it: BUG in migration_entry_to_page()) until Andrea Arcangeli's anon_vma_moveto_tail() (948f017b093a, \"mm: fix race between mremap and removing migration entry\", 3.3). The interval tree (3.7) has no list order to keep: Michel Lespinasse's 108d6642ad81 (\"mm anon rmap: remove anon_vma_moveto_tail\") makes move_ptes() take the anon_vma lock, and his 38a76013ad80 (\"mm: avoid taking rmap locks in move_ptes()\") takes it only when copy_vma() says need_rmap_locks: false for a new vma (the interval tree visits it after the source, both at the same pgoff), `new_vma->vm_pgoff <= vma->vm_pgoff` for a merge into a neighbour (visited first). The planted bug forces need_rmap_locks false. The known race: a page moved away and back merges into its old neighbour; migration's walk visits the neighbour, mremap moves the PTE there, the walk visits the source (I10).",
    invariants: ["I10"],
    minimal: mergeBackRace([0, 0, 1, 1]),
    quick: true,
    interleave: 1,
    raceOps: ["mremap"],
  },
  {
    id: "H7",
    design: "anon-vma-chain",
    quirks: ["move-ptes-no-anon-vma-lock"],
    correct: "anon-vma-chain",
    title: "move_ptes takes i_mmap_rwsem but not the anon_vma lock (108d6642ad81 undone)",
    story:
      "108d6642ad81 (Michel Lespinasse, \"mm anon rmap: remove anon_vma_moveto_tail\", 3.7) removed the list-order trick of 948f017b093a, which the anon_vma interval tree made meaningless, and replaced it with a lock: move_ptes() takes the anon_vma lock as well as the file's i_mmap lock (today's take_rmap_locks()). rmapcheck's planted bug keeps the removal and drops the lock, the state between the two halves of that commit: file mappings stay safe (i_mmap_rwsem), an anonymous page moved back into its old neighbour races migration's walk (I10).",
    invariants: ["I10"],
    minimal: mergeBackRace([0, 0, 1, 1]),
    quick: false,
    interleave: 1,
    raceOps: ["mremap"],
  },
  {
    id: "H8",
    design: "anon-vma",
    correct: "anon-vma-chain",
    title: "anon_vma_link's list_add: a walk visits mremap's new vma before its source and migration orphans an entry",
    story:
      "2.6.7's anon_vma list took new vmas at its head (list_add in anon_vma_link / __anon_vma_link / anon_vma_prepare), so a walk visits the vma copy_vma() made for mremap before the vma the PTEs are moved from: a PTE moved between the two visits is seen in neither place. In 2.6.7 only reclaim walked (a missed PTE leaves the page mapped, which try_to_unmap allows); with swapless page migration (2.6.17) remove_migration_ptes() can miss a migration entry and leave it orphaned (\"BUG_ON(!PageLocked(p)) in migration_entry_to_page\"). Hugh Dickins's \"swapless page migration: fix swapops.h:97 BUG\" (May 2006, 2.6.17-rc) links new vmas at the tail, \"as vma_prio_tree_add adds child vma after parent vma\" for file pages. The design is the flaw here (rmapcheck's anon-vma is 2.6.7's, head insertion); the interval tree of anon-vma-chain orders the new vma after its source. The known race: migration's two walks around one move_ptes (I10).",
    invariants: ["I10"],
    minimal: [
      anon(1, 4, 2),
      w(1, 5, 2),
      { op: "mremap", mm: 1, addr: 5, len: 1, newLen: 1, maymove: true, fixed: true, newAddr: 16, race: { walker: "migrate", mm: 1, addr: 5, schedule: [0, 0, 1, 1, 1, 1, 1, 1, 0, 1] } },
    ],
    quick: false,
    interleave: 1,
    raceOps: ["mremap"],
  },
  {
    id: "B11",
    design: "anon-vma-chain",
    quirks: ["exec-migrates-temporary-stack"],
    correct: "anon-vma-chain",
    title: "migration installs a migration entry in exec's temporary stack, and shift_arg_pages carries it where remove_migration_ptes does not look",
    story:
      "exec builds the new stack at STACK_TOP_MAX and setup_arg_pages() moves it down (shift_arg_pages(); since 6.13 relocate_vma_down() in mm/vma_exec.c): vma_adjust() (today vma_expand()) first widens the vma to [new_start, old_end) with vm_pgoff unchanged, so vma_address() of a stack page is already its new address, then move_page_tables() moves the PTEs with no rmap lock held across the two. A migration entry installed before the expand is looked for at the new address by remove_migration_ptes(), missed, and then carried there by move_page_tables(): left behind, \"kernel BUG at include/linux/swapops.h:105\" in migration_entry_wait() under load_elf_binary(). Mel Gorman's a8bef8ff6ea1 (\"mm: migration: avoid race between shift_arg_pages() and rmap_walk() during migration by not migrating temporary stacks\", 2.6.34; idea by KAMEZAWA Hiroyuki) marks the stack VM_STACK_INCOMPLETE_SETUP (\"an otherwise impossible combination of VMA flags\", cleared once the stack is in place) and has migration skip such vmas, so a stack page simply fails to migrate. Verified in the commit text and in 6.x sources: create_init_stack_vma() (mm/vma_exec.c) still sets the flag and try_to_migrate() still passes invalid_migration_vma() → vma_is_temporary_stack() as rwc->invalid_vma; the flag was never removed, the rmap walk itself was never made to find the PTE. The planted bug drops the skip. The known race: the walker's try_to_migrate() installs the entry, the mover expands the vma, remove_migration_ptes() looks at the new address, the mover moves the entry (I10).",
    invariants: ["I10"],
    minimal: [{ op: "exec", mm: 1, args: [10], race: { walker: "migrate", mm: 1, addr: 31, schedule: [0, 1, 1, 1, 0, 1, 1] } }],
    quick: true,
    raceOps: ["exec"],
    interleave: 1,
  },
  {
    id: "H9",
    design: "anon-vma-chain",
    quirks: ["munmap-unlink-without-rmap-locks"],
    correct: "anon-vma-chain",
    title: "munmap unlinks and frees a vma without the rmap locks while a walk that listed it is still running",
    story:
      "rmapcheck's own planted bug, not a kernel regression: no historical bug of this race that rmapcheck can express was found (searched: the kernel's history has use-after-free reports in this area, e.g. against unlink_anon_vmas() / anon_vma freeing, but none verified as a missing lock in free_pgtables()'s unlink). The kernel's munmap (do_vmi_align_munmap(), 6.x) zaps the range's PTEs under the PTE lock, then free_pgtables() unlinks each vma from its anon_vma interval tree and the file's i_mmap tree under the anon_vma root rwsem and i_mmap_rwsem for writing (unlink_anon_vmas(), unlink_file_vma()), and only then remove_vma() frees it. The write locks are what make a concurrent rmap walk safe: rmap_walk_anon() lists the vmas of the page's anon_vma under the read lock and visits them one by one, so none of them may be freed before it unlocks. The mutant unlinks without the locks: a walk (here migration's try_to_migrate()) that listed the vma reads it after remove_vma() freed it (I4, use-after-free).",
    invariants: ["I4"],
    minimal: [
      anon(1, 4, 2),
      w(1, 5, 2),
      fork(1, 2),
      { op: "munmap", mm: 1, addr: 5, len: 1, race: { walker: "migrate", mm: 1, addr: 5, schedule: [0, 0, 1, 1] } },
    ],
    quick: true,
    raceOps: ["munmap"],
    interleave: 1,
  },
  {
    id: "H11",
    design: "anon-vma-chain",
    quirks: ["fork-no-vma-lock"],
    correct: "anon-vma-chain",
    title: "fork copies a vma a per-VMA-locked fault is changing: the child maps a page whose anon_vma its vma is not on",
    story:
      "6.4 let page faults run under a per-VMA lock instead of mmap_lock (lock_vma_under_rcu(); x86: 0bff0aaea03e, \"x86/mm: try VMA lock-based page fault handling first\"), but dup_mmap() did not write-lock the parent's vmas, so a fault could run while fork copied them. Jiri Slaby, Holger Hoffstätte and Jacob Young reported memory corruption (kernel bugzilla 217624); Suren Baghdasaryan's fb49c455323f (\"fork: lock VMAs of the parent process when forking\", 6.5-rc1, and 6.4.2) write-locks every parent vma before it is copied, and \"mm: disable CONFIG_PER_VMA_LOCK until its fixed\" went in beside it. Its message as merged: a fault on a page fork just made read-only can run wp_page_copy() and anon_vma_prepare() on the source vma, \"defeating the anon_vma_clone() that wasn't done because the parent vma originally didn't have an anon_vma, but we now might end up copying a pte entry for a page that has one\". The planted bug skips that vma_start_write(): a write fault in a never-faulted anonymous vma, between anon_vma_fork() (nothing to clone) and copy_page_range(), gives the child a PTE of a page whose anon_vma its vma is not linked to; the walk of that page misses the child (I1), and migration or swap-out would leave the child's PTE behind.",
    invariants: ["I1", "I6"],
    minimal: [anon(1, 4, 2), { op: "fork", mm: 1, child: 2, race: { walker: "write", mm: 1, addr: 5, token: 7, schedule: [0, 0, 1, 1, 1] } }],
    quick: false,
    interleave: 1,
    raceOps: ["fork"],
  },
  {
    id: "H13",
    design: "anon-vma-chain",
    quirks: ["fault-no-page-lock"],
    correct: "anon-vma-chain",
    title: "a file fault maps its page without holding the page lock from the i_size check on: truncate removes the page in between",
    story:
      "Andrea Arcangeli identified the race between truncation (or invalidation) and do_no_page(): between unmap_mapping_range() shooting down a page's PTEs and truncate_inode_pages() dropping it from the page cache, a fault could look the page up, pass the i_size check and map it just before it went, leaving a PTE to a page beyond EOF that is no longer in the file. An open-coded seqlock on mapping->truncate_count covered truncation; Nick Piggin's d00806b18315 (\"mm: fix fault vs invalidate race for linear mappings\", 2.6.23; read in the posted patch) replaced it with the page lock: ->nopage (today filemap_fault()) returns the page locked and rechecks i_size under the lock, do_no_page() (today finish_fault()) unlocks it only once the PTE is in place, and truncate_inode_pages() unmaps a page still mapped while it holds the lock. The planted bug drops the page lock on the fault side and keeps no truncate_count: a fault checks i_size, truncate sets the new size, unmaps, removes the page and unmaps again, then the fault maps the removed page; the process reads a page the model says is past the end of the file (SEMANTIC).",
    invariants: ["SEMANTIC"],
    minimal: [
      { op: "mmap", mm: 1, addr: 4, len: 3, kind: "shared-file", prot: "rw", fixed: true, file: 0, pgoff: 0 },
      { op: "truncate", file: 0, size: 1, race: { walker: "read", mm: 1, addr: 6, schedule: [1, 1] } },
    ],
    quick: false,
    interleave: 1,
    raceOps: ["truncate"],
  },
  // --- Large folios (impl/folio.ts, docs/folios.md): order 2 stands in for PMD order. ---
  {
    id: "F1",
    design: "anon-vma-chain+folio-6.14",
    mutant: "dup-pmd-keeps-exclusive",
    correct: "anon-vma-chain+folio-6.14",
    title: "fork copies a PMD mapping without clearing PageAnonExclusive: COW reuse hands the shared folio to the writer",
    story:
      "Since 5.19 (6c287605fd56, David Hildenbrand, \"mm: remember exclusively mapped anonymous pages with PG_anon_exclusive\") do_wp_page() / do_huge_pmd_wp_page() reuse an anonymous page in place exactly when PageAnonExclusive is set, and fork must clear it: copy_huge_pmd() calls page_try_dup_anon_rmap() (today __folio_try_dup_anon_rmap(RMAP_LEVEL_PMD)), which clears the bit before the PMD is shared. The mutant leaves the bit set on the PMD path only. After fork the parent's write reuses the folio in place and the child reads the parent's data: the user-visible failure of the COW-can-break-either-way class behind CVE-2020-29374 (17839856fd58 worked around it in 5.8; PageAnonExclusive is the 5.19 fix). A reconstruction of the line 6c287605fd56 added, not a regression found in a release.",
    invariants: ["I13", "SEMANTIC"],
    minimal: [anon(1, 4, 4), w(1, 5, 1), fork(1, 2), w(1, 5, 2), { op: "read", mm: 2, addr: 5 }],
    quick: true,
  },
  {
    id: "F2",
    design: "anon-vma-chain+folio-6.15",
    mutant: "split-pmd-marks-exclusive",
    correct: "anon-vma-chain+folio-6.15",
    title: "__split_huge_pmd marks every subpage exclusive even when the PMD was shared",
    story:
      "__split_huge_pmd_locked() turns one PMD into PTEs with folio_add_anon_rmap_ptes(..., anon_exclusive ? RMAP_EXCLUSIVE : RMAP_NONE), anon_exclusive being the head page's PageAnonExclusive; after fork that bit is clear and the subpages must stay shared. The mutant passes RMAP_EXCLUSIVE unconditionally: a partial munmap (or mprotect, madvise, mremap) in the parent splits its PMD and marks pages the child still maps exclusive, so the parent's next write reuses them in place and the child sees it. CVE-2020-29368 (c444eb564fb1, \"mm: thp: make the THP mapcount atomic against __split_huge_pmd_locked()\", 5.8) is the historical case of a split making do_huge_pmd_wp_page() believe a shared THP exclusive (there through a race with the mapcount read, here sequentially); a reconstruction, not that race.",
    invariants: ["I13", "SEMANTIC"],
    minimal: [anon(1, 4, 4), w(1, 5, 1), fork(1, 2), { op: "munmap", mm: 1, addr: 4, len: 1 }, w(1, 5, 2), { op: "read", mm: 2, addr: 5 }],
    quick: true,
  },
  {
    id: "F3",
    design: "anon-vma-chain+folio-6.14",
    mutant: "split-pmd-drops-entire",
    correct: "anon-vma-chain+folio-6.14",
    title: "__split_huge_pmd forgets to move the entire mapping to the pages",
    story:
      "A PMD split must add one PTE-level mapping per page (per-page _mapcount and _large_mapcount) and then remove the PMD-level one (_entire_mapcount, folio_remove_rmap_pmd()); 6.8's rmap rework (David Hildenbrand, \"mm/huge_memory: batch rmap operations in __split_huge_pmd_locked()\") reorganised exactly these two steps. The mutant drops both: the folio keeps an entire mapcount no PMD backs and per-page mapcounts of zero for mapped pages, so it is freed while mapped or never freed. A reconstruction of the accounting, not a regression found in a release.",
    invariants: ["I12"],
    minimal: [anon(1, 4, 4), w(1, 5, 1), { op: "munmap", mm: 1, addr: 4, len: 1 }],
    quick: true,
  },
  {
    id: "F4",
    design: "anon-vma-chain+folio-6.15",
    mutant: "pmd-unmap-not-queued",
    correct: "anon-vma-chain+folio-6.15",
    title: "the last PMD unmap of a folio still PTE-mapped in part does not queue it for deferred split",
    story:
      "__folio_remove_rmap(RMAP_LEVEL_PMD) queues the folio (deferred_split_folio()) when the entire mapping goes and only some pages stay mapped by PTEs (6.14: nr < nr_pmdmapped; 6.15 CONFIG_NO_PAGE_MAPCOUNT: _large_mapcount < nr pages); before 6.8 the same test read `!compound || nr < nr_pmdmapped` in page_remove_rmap(). Queueing on partial unmap itself came with 9a982250f773 (Kirill A. Shutemov, \"thp: introduce deferred_split_huge_page()\": \"Currently we don't split huge page on partial unmap ... It can lead to memory overhead\"), so on this one path the mutant behaves as every kernel before that commit did. The mutant keeps only the PTE-level test: after fork, a COW in the parent splits its PMD and drops one page; when the child exits with its PMD the folio is partially mapped and off the queue, so its unmapped page is never reclaimed. A reconstruction; the real history of this test (deferred split only for PMD-mappable folios until 6.7, \"mm: allow deferred splitting of arbitrary anon large folios\", Ryan Roberts) is about mTHP, which rmapcheck does not model yet.",
    invariants: ["I14"],
    minimal: [anon(1, 4, 4), w(1, 6, 2), fork(1, 2), w(1, 5, 5), { op: "exit", mm: 2 }],
    quick: true,
  },
  {
    id: "F5",
    design: "anon-vma-chain+folio-6.15",
    mutant: "slot-free-clears-shared",
    correct: "anon-vma-chain+folio-6.15",
    title: "freeing an MM-id slot clears the shared bit while an untracked mm still maps the folio",
    story:
      "6.15's folio_sub_return_large_mapcount() (include/linux/rmap.h; \"mm/rmap: basic MM owner tracking for large folios (!hugetlb)\", 6af8cb80d3a9, David Hildenbrand, in the CONFIG_NO_PAGE_MAPCOUNT series; the id as the kernel test robot reported it against torvalds/linux master, April 2025) frees a slot when its mm's last mapping goes and clears FOLIO_MM_IDS_SHARED_BIT only if one slot now holds every remaining mapping (\"If one MM slot owns all mappings, the folio is mapped exclusively\"): a third mm may map the folio without a slot. The mutant clears the bit whenever a slot is freed: after two forks of a PMD-mapped folio, the first child's exit frees its slot and folio_maybe_mapped_shared() says \"exclusive\" while the parent and the second child map it. A reconstruction of the condition, not a regression found in a release.",
    invariants: ["I13"],
    minimal: [anon(1, 4, 4), w(1, 5, 1), fork(1, 2), fork(1, 3), { op: "exit", mm: 2 }],
    quick: true,
  },
  {
    id: "F6",
    design: "anon-vma-chain+folio-6.14",
    mutant: "vma-address-wraps",
    correct: "anon-vma-chain+folio-6.14",
    title: "the rmap walk of a THP misses a vma where the head page's address would lie below 0",
    story:
      "A real regression, Fixes: a8fa41ad2f6f (\"mm, rmap: check all VMAs that PTE-mapped THP can be part of\"), fixed in 5.13 by 494334e43c16 (Hugh Dickins, \"mm/thp: fix vma_address() if virtual address below file offset\", Cc: stable; verified in the patch as posted, [PATCH 3/7] of 1 June 2021, and in the list of 5.13 upstream THP commits). vma_address() of a THP returned max(start, vm_start) with start = vm_start + ((head pgoff - vm_pgoff) << PAGE_SHIFT); \"there's a wraparound case when the vm_start address is unusually low, but vm_pgoff not so low\": start became almost ULONG_MAX, so the walk (rmap_walk_anon() and rmap_walk_file() both used it) looked beyond the vma and found no mapping there: \"split's try_to_unmap() was unable to find all the mappings of the page (which, on a !DEBUG_VM kernel, would then keep the huge page pinned in memory)\". The fix returns vm_start when the compound page starts before the vma. Here mremap moves the last two pages of an anonymous folio (pages 4–7, pgoff 4) to address 1 (0 is refused, as mmap_min_addr does): the moved vma keeps vm_pgoff 6, the head's address there would be -1, and the folio's walk finds 2 of its 4 mappings (a split by the shrinker would fail the same way). The kernel reported it on shmem THPs; anon THPs took the same path. Planted in the 6.14 layer's walk (the code is older than both schemes).",
    invariants: ["I12"],
    minimal: [anon(1, 4, 4), w(1, 5, 1), { op: "mremap", mm: 1, addr: 6, len: 2, newLen: 2, maymove: true, fixed: true, newAddr: 1 }],
    quick: true,
  },
  {
    id: "F7",
    design: "anon-vma-chain+folio-6.14",
    mutant: "queue-fully-unmapped",
    correct: "anon-vma-chain+folio-6.14",
    title: "a PTE-mapped folio unmapped whole in one batch is queued for deferred split as partially mapped",
    story:
      "A real defect of 6.8–6.9, fixed in 6.10 by Zi Yan, \"mm/rmap: do not add fully unmapped large folio to deferred split list\" (posted 2024-05-02, lkml.kernel.org/r/20240502132852.862138-1-zi.yan@sent.com; verified in the commit message as mirrored in a kernel tree's mm/ history). __folio_remove_rmap() queued a large anon folio when a page lost its last mapping at PTE level (`level == RMAP_LEVEL_PTE || nr < nr_pmdmapped`) whether or not anything was still mapped: \"it is possible that the folio is fully unmapped and adding it to deferred split list is unnecessary ... for PTE-mapped THPs ... they are always added to the deferred split queue. One side effect is that the THP_DEFERRED_SPLIT_PAGE stat for a PTE-mapped folio can be unintentionally increased, making it look like there are many partially mapped folios\"; it showed once 6.9's zap batching (b06dc281aa's folio_remove_rmap_ptes()) unmapped a whole PTE-mapped folio in one call. The fix checks _nr_pages_mapped. Planted in the 6.14 layer's PTE-removal test (rmapcheck models the batch: zap_present_ptes() + folio_pte_batch(), one run of a folio's PTEs in one page table). Here the PMD is split by an mprotect of one page and the vmas merge back, so one zap of the whole range unmaps the PTE-mapped folio in one batch; the mutant marks it partially mapped and counts it. I14's clause: no folio is marked partially mapped while fully unmapped.",
    invariants: ["I14"],
    minimal: [
      anon(1, 4, 4),
      w(1, 5, 1),
      { op: "mprotect", mm: 1, addr: 4, len: 1, prot: "r" },
      { op: "mprotect", mm: 1, addr: 4, len: 1, prot: "rw" },
      { op: "munmap", mm: 1, addr: 4, len: 4 },
    ],
    quick: true,
  },
  {
    id: "F8",
    design: "anon-vma-chain+folio-6.14",
    mutant: "migrate-drops-deferred",
    correct: "anon-vma-chain+folio-6.14",
    title: "migration of a THP queued at fault drops the target off the deferred split queue",
    story:
      "A real defect of 6.12 onwards: dafff3f4c850 (Usama Arif, \"mm: split underused THPs\", 6.12) queues every THP at fault (deferred_split_folio(folio, false) in __do_huge_pmd_anonymous_page) so that the shrinker can split it if underused; migration's __folio_migrate_mapping() unqueues the source and nothing queues the destination, so \"underutilized THPs ... escape the shrinker after NUMA migration, since they silently drop off the deferred split list\". Fix: Usama Arif, \"mm: migrate: requeue destination folio on deferred split queue\", Reported-by Johannes Weiner, Fixes: dafff3f4c850 (v2 posted 2026-03-10, read on lkml.iu.edu with the v1 review by David Hildenbrand and Zi Yan; merged as 8a8ca142a488 and backported to 6.12 stable in May 2026, as a later syzbot fix's Fixes: tag and the stable queue show). rmapcheck's whole-folio migration (impl/folio-migrate.ts) requeues the target with the source's partially-mapped state, as the v2 does; the mutant does not. I14's clause: a THP queued at fault and not yet scanned by the shrinker is on the queue (thp_underused() itself is false at the default max_ptes_none, so rmapcheck never splits for underuse). The known sequence: fault a THP, migrate it.",
    invariants: ["I14"],
    minimal: [anon(1, 4, 4), w(1, 5, 1), { op: "migrate", mm: 1, addr: 5 }],
    quick: true,
  },
  {
    id: "F9",
    design: "anon-vma-chain+folio-6.14",
    mutant: "migrate-partial-whole",
    correct: "anon-vma-chain+folio-6.14",
    title: "a partially mapped THP migrates whole and its target is never put on the deferred split queue",
    story:
      "A real defect from 4.14 to 6.9: 616b8371539a (\"mm: thp: enable thp migration in generic path\", 4.14) migrated a THP whole without looking at the deferred split queue, \"thus, the destination THP is never put on deferred split list even if the source THP might be. The opportunity of reclaiming free pages in a partially mapped THP during deferred list scanning is lost\". Fixed in 6.10 by Zi Yan, 7262f208ca68 \"mm/migrate: split source folio if it is on deferred split list\" (Fixes: 616b8371539a; v3 of 2024-03-19 read in a reply quoting it, the commit id from the kernel test robot's report against torvalds/linux master and Peter Xu's follow-up 6e49019db5f7, Fixes: 7262f208ca68): migrate_pages_batch() splits such a folio first. The mutant migrates the partially mapped folio whole (its freed pages as empty slots) and does not queue the target; it keeps the requeue of a THP queued at fault but not partially mapped (F8's fix), so it fails only where 7262f208ca68's line matters. I14: a partially mapped folio is not on the queue. The known sequence: fault a THP, munmap one page (PMD split, folio queued as partially mapped), migrate another page.",
    invariants: ["I14"],
    minimal: [anon(1, 4, 4), w(1, 5, 1), { op: "munmap", mm: 1, addr: 4, len: 1 }, { op: "migrate", mm: 1, addr: 5 }],
    quick: true,
  },
  {
    id: "F10",
    design: "anon-vma-chain+folio-6.14",
    mutant: "split-vma-keeps-pmd",
    correct: "anon-vma-chain+folio-6.14",
    title: "a vma split cuts a PMD mapping without splitting it; an allocation failure at the second split leaves it across two vmas",
    story:
      "A real bug of the first THP code, fixed by Andrea Arcangeli, \"avoid breaking huge pmd invariants in case of vma_adjust failures\" ([PATCH 57 of 66] of the THP series, 2010-11-03, read in the posting on linux-mm; in mainline with THP itself, 2.6.38, as \"thp: avoid breaking huge pmd invariants in case of vma_adjust failures\"; Red Hat's RHEL 6 changelog lists it as a later fix to the 2.6.32-71 THP backport, so RHEL 6.0's kernel shipped without it). \"An huge pmd can only be mapped if the corresponding 2M virtual range is fully contained in the vma. At times the VM calls split_vma twice, if the first split_vma succeeds and the second fail, the first split_vma remains in effect and it's not rolled back\": before the fix only the operation's own page walk (change_pmd_range(), zap_pmd_range()) split a PMD its range covered in part, and a failure of the second split_vma() returned before that walk. The fix added vma_adjust_trans_huge() to vma_adjust(), which rmapcheck's folio layer calls at every vma boundary change (splitAt); the mutant skips it and leaves the splitting to the walks of mprotect/mlock (changeProtection), munmap/madvise (zapRange) and mremap (pageMove), as the 2010 code did, so it is clean without allocation failures. Here mprotect 6+4 splits the vma at 6 (the PMD [4, 8) is cut), and the second split, at 10, fails: mprotect returns ENOMEM with the vma split at 6 and the PMD across it (I12).",
    invariants: ["I12"],
    minimal: [anon(1, 4, 8), w(1, 5, 1), { op: "mprotect", mm: 1, addr: 6, len: 4, prot: "r", failAlloc: 4 }],
    quick: true,
    failAlloc: 0.6,
  },
  {
    id: "F17",
    design: "anon-vma-chain+folio-6.14",
    mutant: "file-tail-address-efault",
    correct: "anon-vma-chain+folio-6.14",
    title: "the rmap walk cannot compute the address of a file large folio's tail page: its mappings are not found",
    story:
      "A real defect of file THP rmap from 4.8 to 5.13: 31657170deaf (Jue Wang, \"mm/thp: fix page_address_in_vma() on file THP tails\", posted by Hugh Dickins as [PATCH 4/7] of his mm/thp series on 1 June 2021, v2 05/10; Fixes: 800d8c63b2e9 \"shmem: add huge pages support\"; Cc: stable; the id and title read in Hugh Dickins's note to Greg Kroah-Hartman of 16 June 2021 listing the mm/thp commits Linus took that day, and in stable revlists). \"Anon THP tails were already supported, but memory-failure may need to use page_address_in_vma() on file THP tails, which its page->mapping check did not permit\": page_address_in_vma() compared vma->vm_file->f_mapping with page->mapping, which a tail page does not carry, and returned -EFAULT; the fix compares compound_head(page)->mapping. The patch says \"no current usage is known to hit the issue\" (its user was memory-failure's add_to_kill(), which rmapcheck does not model); the mutant puts the pre-fix answer in the walk rmapcheck's file-folio users share (the folio's rmap walk checked by I12, split_folio() at truncation, whole-folio migration): a PTE mapping of a tail page is not found. Here a shared mapping at an offset not aligned with its address maps page 3 of the page-cache folio [0, 4) by PTE; the folio's walk finds 0 of its 1 mapping (I12).",
    invariants: ["I12"],
    minimal: [
      { op: "mmap", mm: 1, addr: 4, len: 4, kind: "shared-file", prot: "rw", fixed: true, file: 0, pgoff: 2 },
      { op: "read", mm: 1, addr: 5 },
    ],
    quick: true,
  },
];

export const findMutant = (name: string): MutantEntry | undefined =>
  catalogue.find((m) => m.id === name || mutantLabel(m) === name);

/** How hunt and reports name an entry: design/mutant, or design+quirk. */
export function mutantLabel(m: MutantEntry): string {
  if (m.mutant) return `${m.design}/${m.mutant}`;
  if (m.quirks && m.quirks.length > 0) return `${m.design}+${m.quirks.join("+")}`;
  return m.design;
}
