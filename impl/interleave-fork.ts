/*
 * Interleaving mode: fork's dup_mmap() made step-wise, racing a page fault of another thread
 * of the parent or an rmap walker (migration, swap-out), under the locks of impl/interleave.ts.
 *
 * The steps (kernel/fork.c dup_mmap(), mm/memory.c copy_page_range()):
 *
 *   1. mmap_write_lock(parent); dup_mm(): allocate_mm(), the design's mm-level fork, __mt_dup().
 *   2. per parent vma, in address order:
 *        vma_start_write(parent vma)   (per-VMA lock eras: fb49c455323f, Suren Baghdasaryan,
 *                                      "fork: lock VMAs of the parent process when forking",
 *                                      6.5-rc1, backported to 6.4.2)
 *        vm_area_dup(), i_mmap link (vma_interval_tree_insert_after), anon_vma_fork()
 *        (under the file's i_mmap_rwsem and the anon_vma root's rwsem, for writing);
 *   3.   copy_page_range(): one PTE per step (empty slots included: the kernel walks them all),
 *        under the parent's PTE lock. A migration entry is copied as one (copy_nonpresent_pte(),
 *        made read-only on both sides), holding its own reference to the page.
 *   4. mmap_write_unlock(parent), which releases every vma_start_write() (mm_lock_seq).
 *
 * The planted bug "fork-no-vma-lock" skips step 2's vma_start_write(): the state of 6.4 and
 * 6.4.1 with CONFIG_PER_VMA_LOCK, where lock_vma_under_rcu() let a page fault run while the
 * parent's vma was being copied (catalogue H11).
 *
 * The child is not runnable during fork: a racing fault is always another thread of an
 * existing process. The fault's place in fork's sequential order is fixed when fork copies
 * the fault's PTE slot (or finishes): before, the child inherits what it wrote.
 */
import type { Race } from "../model/commands.js";
import type { Kernel } from "./kernel.js";
import { MAIN, Race_, type Thread, anonLock, ptl, runRace } from "./interleave.js";
import { type Mm, VM_SHARED, type Vma, hexa } from "./types.js";

/** The kernel's own pieces of fork (impl/syscalls.ts), called one step at a time. */
export interface ForkOps {
  begin(): Mm;
  dupVma(pv: Vma, child: Mm): Vma;
  copyPte(pv: Vma, cv: Vma, addr: number): void;
}

/** The rmap locks anon_vma_fork() and the i_mmap link take for writing. */
function dupLocks(vma: Vma): Array<readonly [unknown, "write"]> {
  const locks: Array<readonly [unknown, "write"]> = [];
  if (vma.vmFile) locks.push([vma.vmFile, "write"]);
  if (vma.anonVma !== null) locks.push([anonLock(vma.anonVma), "write"]);
  return locks;
}

function* forker(r: Race_, parent: Mm, childId: number, ops: ForkOps): Thread {
  const k = r.k;
  yield { label: "mmap_write_lock, dup_mm", locks: [[parent, "write"]] };
  r.locks.take(MAIN, parent, "write");
  const child = ops.begin();
  r.note(MAIN, `mmap_write_lock(mm${parent.id}), dup_mm → mm${childId}`);
  const lockVmas = r.perVma && !k.quirks.has("fork-no-vma-lock");
  for (const pv of [...parent.vmas]) {
    yield {
      label: `dup ${pv}`,
      locks: () => [...(lockVmas ? [[pv, "write"] as const] : []), ...dupLocks(pv)],
    };
    if (lockVmas) r.vmaStartWrite(pv);
    const had = pv.anonVma !== null;
    const cv = ops.dupVma(pv, child);
    r.note(MAIN, `${lockVmas ? `vma_start_write(${pv}), ` : ""}vm_area_dup → ${cv}, anon_vma_fork${had ? "" : " (no anon_vma yet: nothing to clone)"}`);
    if (pv.vmFlags & VM_SHARED) continue; // shared mappings refault from the page cache
    for (let addr = pv.vmStart; addr < pv.vmEnd; addr++) {
      yield { label: `copy_pte ${hexa(addr)}`, locks: [[ptl(parent), "write"]] };
      r.commit(parent, addr);
      const entry = r.migrationEntries.get(parent)?.get(addr);
      if (entry) {
        // copy_nonpresent_pte(): a writable migration entry becomes a read one on both sides.
        entry.writable = false;
        r.entries(child).set(addr, { page: entry.page, writable: false, dirty: entry.dirty });
        entry.page.count++;
        r.note(MAIN, `copy_pte ${hexa(addr)}: migration entry for ${entry.page}`);
        continue;
      }
      const pte = parent.pt.get(addr);
      ops.copyPte(pv, cv, addr);
      r.note(MAIN, pte ? `copy_pte ${hexa(addr)}: ${pte.kind === "swap" ? `swap entry ${pte.slot}` : `${k.pageAt(pte.pfn)}`}` : `copy_pte ${hexa(addr)}: none`);
    }
  }
  yield { label: "mmap_write_unlock", locks: [] };
  r.commit();
  r.mmapWriteUnlock(parent);
}

/** kernel: fork() racing the fault or walker `race` names (impl/interleave.ts runRace). */
export function raceFork(k: Kernel, parent: Mm, childId: number, race: Race, ops: ForkOps): void {
  const r = new Race_(k);
  runRace(r, forker(r, parent, childId, ops), race, "fork");
}
