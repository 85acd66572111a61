/*
 * Interleaving mode for exec (impl/exec.ts): setup_arg_pages()' move of the temporary stack
 * (shift_arg_pages(); 6.13+ relocate_vma_down()) made step-wise against an rmap walker, under
 * the locks of impl/interleave.ts. The walker's page is an argument page, named by its address
 * in the temporary stack (the race starts once copy_strings() has written them and exec_mmap()
 * has switched to the new mm).
 *
 * The steps of the mover (thread 0):
 *   0. mmap_write_lock(mm) (setup_arg_pages(); walks never take it);
 *   1. vma_expand() to [new_start, old_end): a step that changes a vma, so it takes every rmap
 *      lock of the mm for writing (vma_prepare() takes the anon_vma's) and waits for a walk in
 *      progress;
 *   2. move_page_tables() one PTE per step, under the PTE lock only (need_rmap_locks is false
 *      for the stack: nothing orders a walk against it);
 *   3. vma_shrink() to [new_start, new_end) (rmap locks for writing again);
 *   4. clear VM_STACK_INCOMPLETE_SETUP and mmap_write_unlock().
 *
 * Between 1 and 2 the walk computes a stack page's new address while its PTE is at the old
 * one. Migration never installs an entry there (try_to_migrate() skips temporary stacks,
 * a8bef8ff6ea1); the planted B11 bug ("exec-migrates-temporary-stack") undoes that: an entry
 * installed before vma_expand() is looked for at the new address by remove_migration_ptes()
 * and then carried there by move_page_tables(): left behind (I10), as Mel Gorman's 2010 BUG
 * in migration_entry_wait() showed.
 */
import type { Race } from "../model/commands.js";
import { type ExecStack, execPrepare, stackDone, stackExpand, stackShrink } from "./exec.js";
import { MAIN, Race_, type Thread, mmRmapLocks, moveOne, runRace } from "./interleave.js";
import type { Kernel } from "./kernel.js";
import type { Mm } from "./types.js";

/** What exec's race needs of impl/syscalls.ts: exit_mmap() of the old mm, move_ptes() for one PTE. */
export interface ExecOps {
  exitMm(mm: Mm): void;
  movePte(mm: Mm, from: number, to: number): void;
}

/** setup_arg_pages()' move of the stack, step by step. */
function* shifter(r: Race_, s: ExecStack, ops: ExecOps): Thread {
  const k = r.k;
  const { mm, vma } = s;
  yield { label: "mmap_write_lock", locks: [[mm, "write"]] };
  r.locks.take(MAIN, mm, "write");
  r.note(MAIN, `setup_arg_pages: mmap_write_lock(mm${mm.id})`);
  yield { label: "vma_expand", locks: mmRmapLocks(mm) };
  const oldStart = vma.vmStart;
  const oldEnd = vma.vmEnd;
  stackExpand(k, s);
  r.note(MAIN, `vma_expand → ${vma} (pgoff ${vma.vmPgoff})`);
  for (let a = oldStart; a < oldEnd; a++) {
    yield { label: "move_pte", locks: [[`ptl${mm.id}`, "write"]] };
    moveOne(r, mm, a, a - s.shift, (from, to) => ops.movePte(mm, from, to));
  }
  yield { label: "vma_shrink", locks: mmRmapLocks(mm) };
  stackShrink(k, s);
  r.note(MAIN, `vma_shrink → ${vma}`);
  yield { label: "clear VM_STACK_INCOMPLETE_SETUP", locks: [] };
  stackDone(s);
  r.locks.drop(MAIN, mm);
  r.note(MAIN, "clear VM_STACK_INCOMPLETE_SETUP, mmap_write_unlock");
}

/**
 * kernel: do_execve() with setup_arg_pages() racing the walker `race` names. Throws I10 (with
 * the interleaving) if the walk missed a PTE it must find or migration left an entry.
 */
export function raceExec(k: Kernel, old: Mm, args: readonly number[], race: Race, ops: ExecOps): void {
  const s = execPrepare(k, old, args, ops.exitMm);
  const r = new Race_(k);
  // A fault does not race exec (walkerFor() notes it): only walkers.
  runRace(r, shifter(r, s, ops), race, "exec", false);
}
