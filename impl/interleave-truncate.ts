/*
 * Interleaving mode: truncate made step-wise (mm/truncate.c truncate_setsize() →
 * truncate_pagecache()), racing a page fault or an rmap walker (migration) under the locks of
 * impl/interleave.ts. Truncate takes neither mmap_lock nor a vma lock: it races faults in
 * every era.
 *
 *   1. i_size_write(): the new size (and the file's blocks past it go).
 *   2. unmap_mapping_range(holebegin, 0, even_cows=1): under i_mmap_rwsem (read) for the whole
 *      pass, one vma per step: zap its PTEs past the new end (private COW copies too), each
 *      under the vma's PTE lock. A migration entry there goes as well (zap_nonpresent_ptes()).
 *   3. truncate_inode_pages(): one page-cache page past the end per step, under its page lock:
 *      a page still mapped is unmapped first (truncate_cleanup_folio() → unmap_mapping_folio():
 *      a fault that found the page before step 1 may have mapped it since step 2), then it
 *      leaves the page cache.
 *   4. unmap_mapping_range() again: private pages COWed from the file after step 2 (the
 *      kernel's comment in truncate_pagecache(): the second call "must be made for correctness").
 *
 * A fault that found the page in the page cache holds its page lock until the PTE is in place
 * (do_read_fault()/do_cow_fault()/do_shared_fault() → finish_fault(), then folio_unlock()), so
 * step 3 waits for it. The planted bug "fault-no-page-lock" drops that: the fault checks i_size,
 * truncate runs all its steps, and the fault maps a page that has left the page cache, past
 * the end of the file (a process reads what the model says is SIGBUS). A size that grows the
 * file is one step (i_size_write).
 */
import type { Race } from "../model/commands.js";
import type { Kernel } from "./kernel.js";
import { MAIN, Race_, type Thread, ptl, runRace, where } from "./interleave.js";
import type { File, Vma } from "./types.js";

/** The vmas of file that map something at or past page `size` (vma_interval_tree_foreach). */
function victims(file: File, size: number): Vma[] {
  const out: Vma[] = [];
  file.iMmap.query(size, Number.MAX_SAFE_INTEGER, (vma) => {
    out.push(vma);
    return true;
  });
  return out;
}

/** zap_page_range_single() of vma from page `size` of the file on, migration entries included. */
function zapVma(r: Race_, vma: Vma, size: number, pass: string): void {
  const k = r.k;
  const from = vma.vmStart + Math.max(0, size - vma.vmPgoff);
  let zapped = 0;
  for (let a = from; a < vma.vmEnd; a++) {
    r.commit(vma.mm, a, "zap");
    const entries = r.migrationEntries.get(vma.mm);
    const e = entries?.get(a);
    if (e) {
      entries?.delete(a);
      k.putPage(e.page, "zap_nonpresent_ptes (migration entry)");
      zapped++;
      continue;
    }
    if (vma.mm.pt.has(a)) {
      k.counters.truncateZaps++;
      zapped++;
    }
  }
  k.zapRange(vma, from, vma.vmEnd, "unmap_mapping_range");
  r.note(MAIN, `${pass}: zap ${vma} from ${where(vma.mm, from)}: ${zapped} PTE${zapped === 1 ? "" : "s"}`);
}

/** One unmap_mapping_range() pass: i_mmap_rwsem for reading across it, one vma per step. */
function* unmapPass(r: Race_, file: File, size: number, pass: string): Thread {
  yield { label: `${pass}: i_mmap_lock_read`, locks: [[file, "read"]] };
  r.locks.take(MAIN, file, "read");
  const vmas = victims(file, size);
  r.note(MAIN, `${pass}: i_mmap_lock_read, ${vmas.length} vma${vmas.length === 1 ? "" : "s"}`);
  for (const vma of vmas) {
    yield { label: `${pass}: zap ${vma}`, locks: [[ptl(vma.mm), "write"]] };
    zapVma(r, vma, size, pass);
  }
  r.locks.drop(MAIN, file);
}

function* truncater(r: Race_, file: File, size: number): Thread {
  const k = r.k;
  yield { label: "i_size_write", locks: [] };
  const old = file.size;
  file.size = size;
  r.commit(undefined, undefined, "size");
  r.note(MAIN, `i_size_write(file${file.id}, ${size}) (was ${old})`);
  if (size >= old) {
    r.commit();
    return;
  }
  for (const index of [...file.disk.keys()]) if (index >= size) file.disk.delete(index);
  yield* unmapPass(r, file, size, "unmap_mapping_range");
  const indices = [...file.pageCache.keys()].filter((i) => i >= size).sort((a, b) => a - b);
  for (const index of indices) {
    yield {
      label: `truncate_inode_pages: index ${index}`,
      locks: () => {
        const page = file.pageCache.get(index);
        return page ? [[page, "write"]] : [];
      },
    };
    const page = file.pageCache.get(index);
    if (!page) continue;
    if (page.mapcount > 0) {
      // truncate_cleanup_folio() → unmap_mapping_folio(): the one page, in every vma mapping it.
      for (const vma of victims(file, index)) {
        const addr = vma.vmStart + (index - vma.vmPgoff);
        if (addr < vma.vmEnd && k.ptePointsTo(vma.mm, addr, page.pfn)) k.zapPte(vma, addr, "truncate_cleanup_folio");
      }
      r.note(MAIN, `truncate_inode_pages: ${page} still mapped: unmap_mapping_folio`);
    }
    r.note(MAIN, `truncate_inode_pages: ${page} leaves the page cache`);
    k.removeFromPageCache(page, "truncate_inode_pages");
  }
  yield* unmapPass(r, file, size, "unmap_mapping_range (2nd)");
  r.commit();
}

/** kernel: truncate(file, size) racing the fault or walker `race` names (impl/interleave.ts runRace). */
export function raceTruncate(k: Kernel, file: File, size: number, race: Race): void {
  const r = new Race_(k);
  runRace(r, truncater(r, file, size), race, "truncate");
}
