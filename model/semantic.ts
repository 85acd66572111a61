/*
 * The semantic model: what every process observes, stated as simply as possible (primer §3).
 *
 * No pages, no PTEs, no vmas: each process is a map from virtual page to what is mapped
 * there (protection, backing, lock) and, for private memory it has written, its own value.
 * Copy-on-write, swap, reclaim and migration do not exist here: they must be invisible.
 * Two ways to apply a command, one definition: `applyCmd` gives a new immutable state (immer),
 * so a run's states can be kept and compared (replay, shrink reports, the step-by-step view);
 * `applyCmdInPlace` runs the same `step` on a mutable state, for the search loop, which keeps
 * no history (properties/fastpath.test.ts proves the two agree).
 *
 * The argument rules (which call gets EINVAL, ENOMEM, EFAULT) are rmapcheck's own, chosen to
 * follow Linux where the model can state the rule without knowing vma boundaries;
 * docs/semantics.md lists the deliberate differences.
 */
import { produce, setAutoFreeze } from "immer";

// States are never mutated outside produce() (the types are readonly); deep-freezing every
// state would cost a third of the property loop for no protection the types do not give.
setAutoFreeze(false);
import type { Cmd, MapKind, MmId, Outcome, Prot } from "./commands.js";
import { execArgPagesMax, execStackTop, initialFileToken, type World } from "./world.js";

export interface MPage {
  readonly prot: Prot;
  readonly kind: MapKind;
  /** File and page offset for file mappings (0 for anon). */
  readonly file: number;
  readonly pgoff: number;
  readonly locked: boolean;
  /**
   * Private memory this process (or an ancestor before fork) wrote; undefined = not written.
   * Always present as a field (undefined when unwritten), so every page has one shape.
   */
  readonly data: number | undefined;
}

export interface MFile {
  readonly size: number;
  /** Contents by pgoff; absent = zero. */
  readonly data: Readonly<Record<number, number>>;
}

export interface ModelState {
  readonly mms: Readonly<Record<MmId, Readonly<Record<number, MPage>>>>;
  readonly files: readonly MFile[];
}

export type Observed = number | "SIGSEGV" | "SIGBUS";

export function initialState(world: World, initMm: MmId): ModelState {
  const files: MFile[] = [];
  for (let f = 0; f < world.fileCount; f++) {
    const data: Record<number, number> = {};
    for (let p = 0; p < world.fileInitialPages; p++) data[p] = initialFileToken(f, p);
    files.push({ size: world.fileInitialPages, data });
  }
  return { mms: { [initMm]: {} }, files };
}

/** What a read at (mm, addr) returns: the one definition both `read` and the checker use. */
export function observe(state: ModelState, mm: MmId, addr: number): Observed {
  const page = state.mms[mm]?.[addr];
  if (!page) return "SIGSEGV";
  if (page.data !== undefined) return page.data;
  if (page.kind === "anon") return 0;
  const file = state.files[page.file] as MFile;
  if (page.pgoff >= file.size) return "SIGBUS";
  return file.data[page.pgoff] ?? 0;
}

const ok: Outcome = { kind: "ok" };
const errno = (e: "EINVAL" | "ENOMEM" | "EFAULT"): Outcome => ({ kind: "errno", errno: e });

type Draft = { mms: Record<MmId, Record<number, MPage>>; files: { size: number; data: Record<number, number> }[] };

/** A model state the search loop owns and changes in place (never shared, never kept). */
export type MutableModelState = ModelState & { readonly __mutable: true };

/**
 * A command whose failure point was reached (its `failAlloc`-th allocation failed). Whether
 * the kernel makes that many allocations depends on the design, not on what a process sees,
 * so the model takes it from the kernel, with how far a range command got: `stoppedAt`, the
 * first page mprotect / mlock / munlock did not change (-1 for other commands).
 */
export interface AllocFailed {
  readonly stoppedAt: number;
}

/** Apply one command: the new state and what the caller observes. */
export function applyCmd(world: World, state: ModelState, cmd: Cmd, failed?: AllocFailed): { state: ModelState; outcome: Outcome } {
  let outcome: Outcome = ok;
  const next = produce(state as Draft, (d) => {
    outcome = failed ? stepFailed(world, d, cmd, failed) : step(world, d, cmd);
  }) as ModelState;
  return { state: next, outcome };
}

/** Apply one command to a state owned by the caller, changing it: what the caller observes. */
export function applyCmdInPlace(world: World, state: MutableModelState, cmd: Cmd, failed?: AllocFailed): Outcome {
  return failed ? stepFailed(world, state as unknown as Draft, cmd, failed) : step(world, state as unknown as Draft, cmd);
}

/** The outcome if the command does not apply to this state (its process does not exist). */
export function skipOf(state: ModelState, c: Cmd): Outcome | undefined {
  if (!("mm" in c)) return undefined;
  if (!state.mms[c.mm]) return { kind: "skip", why: `no mm${c.mm}` };
  if (c.op === "fork" && state.mms[c.child]) return { kind: "skip", why: `mm${c.child} exists` };
  return undefined;
}

/**
 * What a process observes when an allocation of its command fails (docs/semantics.md,
 * "Allocation failures"): fork, mmap and munmap return ENOMEM and change nothing; mprotect,
 * mlock and munlock change [addr, stoppedAt) and return ENOMEM; a fault (read, write) is
 * retried after VM_FAULT_OOM and succeeds, so it observes what it would have anyway;
 * migration is invisible either way.
 */
function stepFailed(w: World, d: Draft, c: Cmd, failed: AllocFailed): Outcome {
  switch (c.op) {
    case "fork":
    case "mmap":
    case "munmap":
      return errno("ENOMEM");
    case "mprotect":
    case "mlock":
    case "munlock": {
      const at = failed.stoppedAt;
      if (!Number.isInteger(at) || at < c.addr || at >= c.addr + c.len) return { kind: "internal", what: `progress ${at} outside the range` };
      if (at > c.addr) step(w, d, { ...c, len: at - c.addr });
      return errno("ENOMEM");
    }
    default:
      return step(w, d, c);
  }
}

/** A private deep copy of a state (MPage objects are never changed in place, so they are shared). */
export function mutableCopy(state: ModelState): MutableModelState {
  const mms: Record<MmId, Record<number, MPage>> = {};
  for (const id in state.mms) mms[Number(id)] = { ...state.mms[Number(id)] };
  const files = state.files.map((f) => ({ size: f.size, data: { ...f.data } }));
  return { mms, files } as unknown as MutableModelState;
}

function step(w: World, d: Draft, c: Cmd): Outcome {
  if (c.op === "reclaim") return { kind: "internal", what: "invisible" };
  if (c.op === "truncate") return truncate(w, d, c.file, c.size);
  const pages = d.mms[c.mm];
  if (!pages) return { kind: "skip", why: `no mm${c.mm}` };
  const validRange = (addr: number, len: number) =>
    Number.isInteger(addr) && Number.isInteger(len) && len >= 1 && addr >= 0 && addr + len <= w.vpnLimit;
  const allMapped = (addr: number, len: number) => {
    for (let a = addr; a < addr + len; a++) if (!pages[a]) return false;
    return true;
  };
  switch (c.op) {
    case "mmap":
      return mmap(w, d, pages, c);
    case "munmap":
      if (!validRange(c.addr, c.len)) return errno("EINVAL");
      for (let a = c.addr; a < c.addr + c.len; a++) delete pages[a];
      return ok;
    case "mprotect":
    case "mlock":
    case "munlock": {
      if (!validRange(c.addr, c.len)) return errno("EINVAL");
      if (!allMapped(c.addr, c.len)) return errno("ENOMEM");
      for (let a = c.addr; a < c.addr + c.len; a++) {
        const p = pages[a] as MPage;
        if (c.op === "mprotect") pages[a] = { ...p, prot: c.prot };
        else pages[a] = { ...p, locked: c.op === "mlock" };
      }
      return ok;
    }
    case "madvise": {
      if (!validRange(c.addr, c.len)) return errno("EINVAL");
      if (!allMapped(c.addr, c.len)) return errno("ENOMEM");
      for (let a = c.addr; a < c.addr + c.len; a++) if ((pages[a] as MPage).locked) return errno("EINVAL");
      // DONTNEED: private memory forgets what was written (anon reads zero, file reads the file).
      for (let a = c.addr; a < c.addr + c.len; a++) pages[a] = { ...(pages[a] as MPage), data: undefined };
      return ok;
    }
    case "mremap":
      return mremap(w, pages, c, validRange, allMapped);
    case "fork": {
      if (d.mms[c.child]) return { kind: "skip", why: `mm${c.child} exists` };
      const child: Record<number, MPage> = {};
      // The child sees a copy of private memory and shares shared mappings; mlock is not inherited.
      for (let a = 0; a < w.vpnLimit; a++) {
        const p = pages[a];
        if (p !== undefined) child[a] = { ...p, locked: false };
      }
      d.mms[c.child] = child;
      return ok;
    }
    case "exit":
      delete d.mms[c.mm];
      return ok;
    case "exec":
      return exec(w, d, c.mm, c.args);
    case "read": {
      const v = observe(d, c.mm, c.addr);
      return typeof v === "number" ? { kind: "value", value: v } : { kind: "signal", signal: v };
    }
    case "write":
      return write(d, pages, c.addr, c.token);
    case "swapout":
    case "migrate":
      return { kind: "internal", what: "invisible" };
  }
}

function lowestGap(w: World, pages: Record<number, MPage>, len: number): number | undefined {
  for (let a = w.mmapBase; a + len <= w.vpnLimit; a++) {
    let free = true;
    for (let i = 0; i < len && free; i++) if (pages[a + i]) free = false;
    if (free) return a;
  }
  return undefined;
}

function rangeFree(pages: Record<number, MPage>, addr: number, len: number): boolean {
  for (let a = addr; a < addr + len; a++) if (pages[a]) return false;
  return true;
}

function mmap(w: World, d: Draft, pages: Record<number, MPage>, c: Extract<Cmd, { op: "mmap" }>): Outcome {
  if (!Number.isInteger(c.len) || c.len < 1 || c.len > w.vpnLimit) return errno("EINVAL");
  const isFile = c.kind !== "anon";
  const file = c.file ?? -1;
  if (isFile && !d.files[file]) return errno("EINVAL");
  const pgoff = c.pgoff ?? 0;
  if (isFile && (!Number.isInteger(pgoff) || pgoff < 0)) return errno("EINVAL");
  let addr: number;
  if (c.fixed) {
    if (c.addr < w.mmapBase || c.addr + c.len > w.vpnLimit) return errno("EINVAL");
    addr = c.addr;
  } else if (c.addr >= w.mmapBase && c.addr + c.len <= w.vpnLimit && rangeFree(pages, c.addr, c.len)) {
    addr = c.addr;
  } else {
    const gap = lowestGap(w, pages, c.len);
    if (gap === undefined) return errno("ENOMEM");
    addr = gap;
  }
  for (let i = 0; i < c.len; i++) {
    pages[addr + i] = {
      prot: c.prot,
      kind: c.kind,
      file: isFile ? file : 0,
      pgoff: isFile ? pgoff + i : 0,
      locked: false,
      data: undefined,
    };
  }
  return { kind: "addr", addr };
}

function mremap(
  w: World,
  pages: Record<number, MPage>,
  c: Extract<Cmd, { op: "mremap" }>,
  validRange: (a: number, l: number) => boolean,
  allMapped: (a: number, l: number) => boolean,
): Outcome {
  const { addr, newLen } = c;
  let len = c.len;
  if (!validRange(addr, len) || !Number.isInteger(newLen) || newLen < 1) return errno("EINVAL");
  const unmap = (a: number, l: number) => {
    for (let i = a; i < a + l; i++) delete pages[i];
  };
  const move = (to: number) => {
    const moved: MPage[] = [];
    for (let i = 0; i < len; i++) moved.push(pages[addr + i] as MPage);
    unmap(addr, len);
    moved.forEach((p, i) => {
      pages[to + i] = p;
    });
  };
  // Growth continues the last page's mapping: anon reads zero, file continues its offsets.
  const grow = (at: number, by: number) => {
    const last = pages[at - 1] as MPage;
    for (let i = 0; i < by; i++) pages[at + i] = { ...last, pgoff: last.kind === "anon" ? 0 : last.pgoff + 1 + i, data: undefined };
  };
  if (c.fixed) {
    const na = c.newAddr;
    if (!c.maymove || na === undefined || na < w.mmapBase || na + newLen > w.vpnLimit) return errno("EINVAL");
    if (na < addr + len && addr < na + newLen) return errno("EINVAL");
    if (!allMapped(addr, len)) return errno("EFAULT");
    unmap(na, newLen);
    if (newLen < len) {
      unmap(addr + newLen, len - newLen);
      len = newLen;
    }
    move(na);
    if (newLen > len) grow(na + len, newLen - len);
    return { kind: "addr", addr: na };
  }
  if (!allMapped(addr, len)) return errno("EFAULT");
  if (newLen <= len) {
    unmap(addr + newLen, len - newLen);
    return { kind: "addr", addr };
  }
  if (addr + newLen <= w.vpnLimit && rangeFree(pages, addr + len, newLen - len)) {
    grow(addr + len, newLen - len);
    return { kind: "addr", addr };
  }
  if (!c.maymove) return errno("ENOMEM");
  const na = lowestGap(w, pages, newLen);
  if (na === undefined) return errno("ENOMEM");
  move(na);
  grow(na + len, newLen - len);
  return { kind: "addr", addr: na };
}

/**
 * execve(): the process keeps its id and loses its whole address space (mappings, private
 * writes, mlock); what it sees afterwards is one stack of private anonymous read-write pages
 * ending at execStackTop, holding the argument tokens in order. Files keep what shared
 * mappings wrote; other processes (children included) see nothing change.
 */
function exec(w: World, d: Draft, mm: MmId, args: readonly number[]): Outcome {
  if (!Array.isArray(args) || args.length < 1 || args.length > execArgPagesMax || !args.every(Number.isInteger)) return errno("EINVAL");
  const top = execStackTop(w);
  const stack: Record<number, MPage> = {};
  args.forEach((token, i) => {
    stack[top - args.length + i] = { prot: "rw", kind: "anon", file: 0, pgoff: 0, locked: false, data: token };
  });
  d.mms[mm] = stack;
  return ok;
}

function write(d: Draft, pages: Record<number, MPage>, addr: number, token: number): Outcome {
  const p = pages[addr];
  if (p?.prot !== "rw") return { kind: "signal", signal: "SIGSEGV" };
  if (p.kind !== "anon" && p.pgoff >= (d.files[p.file] as MFile).size) return { kind: "signal", signal: "SIGBUS" };
  if (p.kind === "shared-file") (d.files[p.file] as { data: Record<number, number> }).data[p.pgoff] = token;
  else pages[addr] = { ...p, data: token };
  return ok;
}

/** truncate: the file ends at `size`; private copies past the end vanish too (even_cows). */
function truncate(w: World, d: Draft, fileId: number, size: number): Outcome {
  const file = d.files[fileId];
  if (!file || !Number.isInteger(size) || size < 0 || size > w.fileMaxPages) return errno("EINVAL");
  for (const key of Object.keys(file.data)) if (Number(key) >= size) delete file.data[Number(key)];
  file.size = size;
  for (const pages of Object.values(d.mms)) {
    for (const [a, p] of Object.entries(pages)) {
      if (p.kind === "private-file" && p.file === fileId && p.pgoff >= size && p.data !== undefined) {
        pages[Number(a)] = { ...p, data: undefined };
      }
    }
  }
  return ok;
}
