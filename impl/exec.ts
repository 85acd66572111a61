/*
 * execve() in the simulated kernel (fs/exec.c; since 6.13 the stack's move is
 * relocate_vma_down() in mm/vma_exec.c): the process's address space is replaced by a fresh
 * one holding only a stack of argument pages.
 *
 * Linux builds the new mm first (bprm_mm_init() → create_init_stack_vma(): one stack vma at
 * STACK_TOP_MAX, flagged VM_STACK_INCOMPLETE_SETUP), copies the argument strings into it
 * (copy_strings() → get_arg_page(), a write fault in the new mm), switches to it and drops the
 * old one (exec_mmap() → mmput()), then setup_arg_pages() moves the stack down to its final
 * top (shift_arg_pages(), now relocate_vma_down()):
 *
 *   1. vma_expand() (2.6.34: vma_adjust()) to cover [new_start, old_end): vm_start changes,
 *      vm_pgoff does not, so from here on vma_address() of a stack page is its new address;
 *   2. move_page_tables(vma, old_start, vma, new_start, length, need_rmap_locks = false);
 *   3. free_pgd_range(), then vma_shrink() (vma_adjust()) to [new_start, new_end);
 *   4. clear VM_STACK_INCOMPLETE_SETUP (setup_arg_pages' mprotect_fixup()).
 *
 * Between 1 and 2 a stack page is mapped at its old address while every rmap walk computes
 * the new one, and no rmap lock is held across the two. Migration is kept out by the flag:
 * try_to_migrate() skips a temporary stack (invalid_migration_vma() → vma_is_temporary_stack(),
 * Mel Gorman's a8bef8ff6ea1, 2.6.34; still so in 6.x), so a stack page fails to migrate and
 * no migration entry can be left in the stack. Interleaving mode runs steps 1–4 against a walker
 * (impl/interleave-exec.ts); here they run in one go.
 *
 * Simplified: the new mm replaces the old one before the stack is built (Linux builds it first
 * and switches in exec_mmap(); no process and no rmap walk can tell, since the new stack's pages
 * are allocated after the old mm's are freed instead of before); the temporary stack is created
 * at its full size (Linux grows it page by page as copy_strings() faults, expand_downwards()).
 * exec never carries a failure point.
 */
import { execArgPagesMax, execStackShift } from "../model/world.js";
import type { Kernel } from "./kernel.js";
import { adjustVma, insertVma } from "./mmap.js";
import { Mm, VM_READ, VM_STACK_INCOMPLETE_SETUP, VM_WRITE, Vma } from "./types.js";

/** The stack being set up: what setup_arg_pages() works on. */
export interface ExecStack {
  readonly mm: Mm;
  readonly vma: Vma;
  /** stack_shift, in pages. */
  readonly shift: number;
}

/**
 * bprm_mm_init(), copy_strings() and exec_mmap(): the old address space goes (as exit_mmap()
 * would), a new mm with the same id gets the temporary stack at the top of the address space,
 * and each argument page is written by a fault. Returns the stack, not yet moved.
 */
export function execPrepare(k: Kernel, old: Mm, args: readonly number[], exitMm: (mm: Mm) => void): ExecStack {
  exitMm(old);
  const mm = new Mm(old.id);
  k.mms.set(mm.id, mm);
  k.design.mmInit(mm);
  k.allocator.allocate("mm_struct"); // kernel: mm_alloc()
  k.allocator.allocate("vm_area_struct"); // kernel: create_init_stack_vma() → vm_area_alloc()
  const end = k.world.vpnLimit;
  const start = end - args.length;
  // An anonymous vma's pgoff is its start here (do_mmap's convention; Linux leaves the stack's 0).
  const vma = new Vma(mm, start, end, start, VM_READ | VM_WRITE | VM_STACK_INCOMPLETE_SETUP, null);
  insertVma(k, vma);
  args.forEach((token, i) => {
    k.access(mm, start + i, true, token); // get_arg_page(): a write fault in the new mm
  });
  return { mm, vma, shift: execStackShift };
}

/** The pgoff the stack vma keeps across its move: its own, or re-based where no anon object pins it. */
const keptPgoff = (k: Kernel, vma: Vma, newStart: number): number => (k.design.hasAnonObject(vma) ? vma.vmPgoff : newStart);

/** Step 1 of the move: vma_expand() over [new_start, old_end), vm_pgoff unchanged. */
export function stackExpand(k: Kernel, s: ExecStack): void {
  const { vma, shift } = s;
  adjustVma(k, vma, vma.vmStart - shift, vma.vmEnd, keptPgoff(k, vma, vma.vmStart - shift));
}

/** Step 3: vma_shrink() to [new_start, new_end). */
export function stackShrink(k: Kernel, s: ExecStack): void {
  const { vma, shift } = s;
  adjustVma(k, vma, vma.vmStart, vma.vmEnd - shift, vma.vmPgoff);
}

/** Step 4: the stack is in place; migration may take its pages again. */
export function stackDone(s: ExecStack): void {
  s.vma.vmFlags &= ~VM_STACK_INCOMPLETE_SETUP;
}

/** Is vma exec's temporary stack? (kernel: vma_is_temporary_stack()) */
export const isTemporaryStack = (vma: Vma): boolean => (vma.vmFlags & VM_STACK_INCOMPLETE_SETUP) === VM_STACK_INCOMPLETE_SETUP;

/** Valid exec arguments: 1..execArgPagesMax integer tokens (the model's rule). */
export const validExecArgs = (args: unknown): args is number[] =>
  Array.isArray(args) && args.length >= 1 && args.length <= execArgPagesMax && args.every((a) => Number.isInteger(a));

/**
 * kernel: do_execve() with the stack's move in one go (sequential mode). `movePte` is
 * move_ptes() for one PTE (impl/syscalls.ts); the old stack range [old_start, old_end) is
 * moved from its lowest page up, which is safe when the ranges overlap (new_start < old_start).
 */
export function sysExec(k: Kernel, old: Mm, args: readonly number[], exitMm: (mm: Mm) => void, movePte: (mm: Mm, from: number, to: number) => void): void {
  const s = execPrepare(k, old, args, exitMm);
  const oldStart = s.vma.vmStart;
  const oldEnd = s.vma.vmEnd;
  stackExpand(k, s);
  for (let a = oldStart; a < oldEnd; a++) movePte(s.mm, a, a - s.shift);
  stackShrink(k, s);
  stackDone(s);
}
