/*
 * Interleaving mode for munmap: do_vmi_munmap() made step-wise against an rmap walker, under
 * the locks of impl/interleave.ts. The walker's page is the one mapped at (race.mm, race.addr)
 * when the munmap starts: a page of the range (its other mappings, after fork, stay), or any.
 *
 * The steps of the mover (thread 0), after 6.x's do_vmi_align_munmap():
 *   0. mmap_write_lock(mm);
 *   1. split the vmas at the range's edges (vms_gather_munmap_vmas(); a vma change: every rmap
 *      lock of the mm for writing, so it waits for a walk in progress);
 *   2. unmap_vmas(): zap one PTE per step under the PTE lock (zap_pte_range(); a migration
 *      entry found there is dropped with the reference it holds), each zap dropping the
 *      mapping's reference on its page;
 *   3. free_pgtables(): one vma per step, unlink_anon_vmas() / unlink_file_vma() under the
 *      anon_vma root rwsem and i_mmap_rwsem for writing, then remove_vma() frees it;
 *   4. mmap_write_unlock(mm).
 *
 * What must hold: a walker never touches a freed vma (it computed the vmas it visits under
 * its rmap read lock; the unlink waits for that lock, so none of them is freed before the walk
 * ends: a freed vma is poisoned and any read of it is I4) nor a page it has no reference on
 * (every walker holds one: migration's isolation, the swap cache's, folio_referenced's
 * isolation from the LRU; a poisoned page is I4 too); and I10 for what stays mapped: the walk
 * finds every PTE that was not zapped, and migration leaves no entry.
 *
 * Planted bug "munmap-unlink-without-rmap-locks" (catalogue H9, no kernel history: rmapcheck's
 * own): free_pgtables() unlinks without the rmap locks, so a walk that listed the vma visits
 * it after remove_vma() freed it (I4).
 */
import type { Race } from "../model/commands.js";
import { MAIN, Race_, type Thread, mmRmapLocks, runRace } from "./interleave.js";
import type { Kernel } from "./kernel.js";
import { removeVma, splitAround } from "./mmap.js";
import { type Mm, hexa } from "./types.js";

function* unmapper(r: Race_, mm: Mm, start: number, end: number): Thread {
  const k = r.k;
  yield { label: "mmap_write_lock", locks: [[mm, "write"]] };
  r.locks.take(MAIN, mm, "write");
  r.note(MAIN, `munmap ${hexa(start)}+${end - start}: mmap_write_lock(mm${mm.id})`);
  yield { label: "split", locks: mmRmapLocks(mm) };
  const vmas = splitAround(k, mm, start, end);
  r.note(MAIN, vmas.length > 0 ? `split: ${vmas.join(", ")}` : "nothing mapped");
  for (const vma of vmas) {
    for (let a = vma.vmStart; a < vma.vmEnd; a++) {
      yield { label: "zap_pte", locks: [[`ptl${mm.id}`, "write"]] };
      const entry = r.migrationEntries.get(mm)?.get(a);
      if (entry) {
        // zap_pte_range() on a migration entry: the entry goes with the reference it holds.
        r.entries(mm).delete(a);
        k.putPage(entry.page, "munmap (migration entry)");
        r.note(MAIN, `zap ${hexa(a)} (migration entry)`);
      } else if (mm.pt.has(a)) {
        k.zapPte(vma, a, "munmap");
        r.note(MAIN, `zap ${hexa(a)}`);
      } else r.note(MAIN, `zap ${hexa(a)}: none`);
    }
  }
  const unlocked = k.quirks.has("munmap-unlink-without-rmap-locks");
  for (const vma of vmas) {
    yield { label: "free_pgtables: unlink", locks: unlocked ? [] : mmRmapLocks(mm) };
    const name = `${vma}`;
    removeVma(k, vma, "munmap");
    r.note(MAIN, `unlink_anon_vmas / unlink_file_vma, remove_vma ${name}`);
  }
  yield { label: "mmap_write_unlock", locks: [] };
  r.locks.drop(MAIN, mm);
  r.note(MAIN, "mmap_write_unlock");
}

/** kernel: munmap(start, end - start) racing the walker `race` names; throws I10 / I4 as the walk finds. */
export function raceMunmap(k: Kernel, mm: Mm, start: number, end: number, race: Race): void {
  const r = new Race_(k);
  // A fault does not race munmap (walkerFor() notes it): only walkers.
  runRace(r, unmapper(r, mm, start, end), race, "munmap", false);
}
