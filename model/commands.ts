/*
 * The command language: every operation rmapcheck can apply, as plain data.
 *
 * A command is a syscall (or a kernel-internal event such as reclaim) with all of its
 * arguments spelled out, so that any sequence can be printed, saved in a shrink report and
 * replayed years later without the generator that produced it. One interpreter
 * (properties/interpreter.ts) applies the same command to the reference model and to the
 * simulated kernel.
 *
 * Units: addresses and lengths are in pages (PAGE_SHIFT = 12 implied); `pgoff` is a file
 * offset in pages. Process ids (`mm`) are small integers; `fork` names the child's id
 * explicitly so that removing an earlier command while shrinking never renumbers processes.
 *
 * `failAlloc: n` on fork, mmap, munmap, mprotect, mlock, munlock, read, write and migrate
 * makes the command's n-th allocation fail (impl/alloc.ts), as fault injection would: part of
 * the command, so it is generated, shrunk, printed and replayed like any other argument.
 */

/** A process (one mm_struct). mm1 is the first process of every run. */
export type MmId = number;
/** Virtual page number. */
export type Vpn = number;
/** A file of the small world, by index. */
export type FileId = number;

export type Prot = "r" | "rw";
export type MapKind = "anon" | "private-file" | "shared-file";

/**
 * A second thread racing a command (interleaving mode, docs/semantics.md): an rmap walker
 * (`migrate`, `swapout`, `referenced`) runs on the page mapped at (mm, addr) when the command starts; a
 * fault (`write`, storing `token`, or `read`) is another thread of process mm touching addr.
 * `schedule` says which thread takes each step (0 = the command, 1 = the racing thread; past
 * its end, the lowest runnable thread). Commands that may carry one: mremap (MREMAP_FIXED),
 * munmap and exec (a walker), fork and truncate (a walker or a fault). Like a failure point it is command data: generated, shrunk, printed and
 * replayed.
 */
export interface Race {
  /**
   * migrate: try_to_migrate + remove_migration_ptes; swapout: try_to_unmap (anonymous pages);
   * referenced: folio_referenced(), which clears the young bits it finds; write / read: a
   * fault by another thread of mm.
   */
  walker: "migrate" | "swapout" | "referenced" | "write" | "read";
  mm: MmId;
  addr: Vpn;
  /** The value a racing write stores (walker "write"). */
  token?: number;
  schedule: number[];
}

/** A racing fault as the command it is when it runs alone. */
export function raceFault(r: Race): Cmd | undefined {
  if (r.walker === "write") return { op: "write", mm: r.mm, addr: r.addr, token: r.token ?? 0 };
  if (r.walker === "read") return { op: "read", mm: r.mm, addr: r.addr };
  return undefined;
}

/** The race a command carries, if any. */
export const raceOf = (c: Cmd): Race | undefined => (c as { race?: Race }).race;

/** How a race prints: ` racing write(mm1, 0x5, 7) schedule [MMWW]`. */
export function raceToString(r: Race): string {
  const fault = raceFault(r);
  const who = fault ? syscallToString(fault) : `${r.walker}(page@mm${r.mm}:${hex(r.addr)})`;
  return ` racing ${who} schedule [${r.schedule.map((t) => (t === 0 ? "M" : "W")).join("")}]`;
}

/** The failure point of a command that allocates: its n-th allocation (1-based) fails. */
interface MayFail {
  failAlloc?: number;
}

export type Cmd =
  | ({
      op: "mmap";
      mm: MmId;
      addr: Vpn;
      len: number;
      kind: MapKind;
      prot: Prot;
      /** MAP_FIXED: replace whatever was mapped in [addr, addr+len). Otherwise addr is a hint. */
      fixed: boolean;
      file?: FileId;
      pgoff?: number;
    } & MayFail)
  | ({
      op: "munmap";
      mm: MmId;
      addr: Vpn;
      len: number;
      /** Interleaving mode: an rmap walk runs concurrently with the unmap (impl/interleave-munmap.ts). */
      race?: Race;
    } & MayFail)
  | ({ op: "mprotect"; mm: MmId; addr: Vpn; len: number; prot: Prot } & MayFail)
  | {
      op: "mremap";
      mm: MmId;
      addr: Vpn;
      len: number;
      newLen: number;
      maymove: boolean;
      /** MREMAP_FIXED (requires maymove): move to newAddr. */
      fixed: boolean;
      newAddr?: Vpn;
      /** Interleaving mode: an rmap walk runs concurrently with this move (impl/interleave.ts). */
      race?: Race;
    }
  | { op: "madvise"; mm: MmId; addr: Vpn; len: number; advice: "dontneed" }
  | ({ op: "mlock"; mm: MmId; addr: Vpn; len: number } & MayFail)
  | ({ op: "munlock"; mm: MmId; addr: Vpn; len: number } & MayFail)
  | ({ op: "fork"; mm: MmId; child: MmId; /** Interleaving mode: a fault or walker races dup_mmap (impl/interleave-fork.ts). */ race?: Race } & MayFail)
  | { op: "exit"; mm: MmId }
  /**
   * execve(): the address space is replaced by a fresh stack of `args.length` private
   * anonymous pages holding the argument tokens, args[0] lowest (docs/semantics.md, "exec").
   * Interleaving mode: the stack's move to its final place (shift_arg_pages) races `race`,
   * whose addr is an argument page's address in the temporary stack (impl/interleave-exec.ts).
   */
  | { op: "exec"; mm: MmId; args: number[]; race?: Race }
  | ({ op: "read"; mm: MmId; addr: Vpn } & MayFail)
  | ({ op: "write"; mm: MmId; addr: Vpn; token: number } & MayFail)
  | { op: "truncate"; file: FileId; size: number; /** Interleaving mode: a fault or walker races the truncation (impl/interleave-truncate.ts). */ race?: Race }
  /** Swap out the page mapped at (mm, addr), unmapping it through the design's walk. */
  | { op: "swapout"; mm: MmId; addr: Vpn }
  /** Migrate the page mapped at (mm, addr) to another frame through the design's walk. */
  | ({ op: "migrate"; mm: MmId; addr: Vpn } & MayFail)
  /** Memory pressure: run the reclaim clock until `pages` pages are freed (or it gives up). */
  | { op: "reclaim"; pages: number };

export type Op = Cmd["op"];

export const allOps: readonly Op[] = [
  "mmap",
  "munmap",
  "mprotect",
  "mremap",
  "madvise",
  "mlock",
  "munlock",
  "fork",
  "exit",
  "read",
  "write",
  "truncate",
  "swapout",
  "migrate",
  "reclaim",
  "exec",
];

/**
 * What a command returns. Observable outcomes (everything but `swapout`, `migrate` and
 * `reclaim`, which must be invisible) are compared between the model and the kernel.
 */
export type Outcome =
  | { kind: "ok" }
  | { kind: "addr"; addr: Vpn }
  | { kind: "value"; value: number }
  | { kind: "signal"; signal: "SIGSEGV" | "SIGBUS" }
  | { kind: "errno"; errno: "EINVAL" | "ENOMEM" | "EFAULT" }
  /** The command does not apply to this world (its process does not exist): nothing happens. */
  | { kind: "skip"; why: string }
  /** Kernel-internal events report what they did; never compared with the model. */
  | { kind: "internal"; what: string };

/** The ops that may carry a failure point (`failAlloc`). */
export const failableOps: ReadonlySet<Op> = new Set<Op>(["mmap", "munmap", "mprotect", "mlock", "munlock", "fork", "read", "write", "migrate"]);

/** The command's failure point, if any. */
export const failAllocOf = (c: Cmd): number | undefined => (c as MayFail).failAlloc;

/** 1st, 2nd, 3rd, 4th… */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : (["th", "st", "nd", "rd"][n % 10] ?? "th");
  return `${n}${suffix}`;
}

export const isInvisible = (c: Cmd): boolean => c.op === "swapout" || c.op === "migrate" || c.op === "reclaim";

export function outcomeToString(o: Outcome): string {
  switch (o.kind) {
    case "ok":
      return "0";
    case "addr":
      return hex(o.addr);
    case "value":
      return `= ${o.value}`;
    case "signal":
      return o.signal;
    case "errno":
      return `-${o.errno}`;
    case "skip":
      return `skipped (${o.why})`;
    case "internal":
      return o.what;
  }
}

/** Do two outcomes print the same? (Compared field by field when the kinds agree.) */
export function sameOutcome(a: Outcome, b: Outcome): boolean {
  if (a.kind !== b.kind) return outcomeToString(a) === outcomeToString(b);
  switch (a.kind) {
    case "ok":
      return true;
    case "addr":
      return a.addr === (b as typeof a).addr;
    case "value":
      return a.value === (b as typeof a).value;
    case "signal":
      return a.signal === (b as typeof a).signal;
    case "errno":
      return a.errno === (b as typeof a).errno;
    case "skip":
      return a.why === (b as typeof a).why;
    case "internal":
      return a.what === (b as typeof a).what;
  }
}

export const hex = (n: number): string => `0x${n.toString(16)}`;

const range = (addr: number, len: number) => `${hex(addr)}+${len}`;

/** A command as a syscall, the way reports and logs print it (STYLE item 6). */
export function cmdToString(c: Cmd): string {
  const n = failAllocOf(c);
  return n === undefined ? syscallToString(c) : `${syscallToString(c)} with the ${ordinal(n)} allocation failing`;
}

const raceText = (r: Race | undefined): string => (r ? raceToString(r) : "");

function syscallToString(c: Cmd): string {
  switch (c.op) {
    case "mmap": {
      const flags = [c.kind === "shared-file" ? "SHARED" : "PRIVATE"];
      if (c.kind === "anon") flags.push("ANON");
      if (c.fixed) flags.push("FIXED");
      const backing = c.kind === "anon" ? "" : `, file${c.file}@${c.pgoff ?? 0}`;
      return `mmap(mm${c.mm}, ${range(c.addr, c.len)}, ${c.prot}, ${flags.join("|")}${backing})`;
    }
    case "munmap":
      return `munmap(mm${c.mm}, ${range(c.addr, c.len)})${raceText(c.race)}`;
    case "mprotect":
      return `mprotect(mm${c.mm}, ${range(c.addr, c.len)}, ${c.prot})`;
    case "mremap": {
      const dest = c.fixed ? ` → ${hex(c.newAddr ?? 0)}` : "";
      const flags = c.fixed ? " MAYMOVE|FIXED" : c.maymove ? " MAYMOVE" : "";
      const size = c.newLen === c.len ? "" : ` to ${c.newLen}`;
      return `mremap(mm${c.mm}, ${range(c.addr, c.len)}${size}${dest}${flags})${raceText(c.race)}`;
    }
    case "madvise":
      return `madvise(mm${c.mm}, ${range(c.addr, c.len)}, DONTNEED)`;
    case "mlock":
      return `mlock(mm${c.mm}, ${range(c.addr, c.len)})`;
    case "munlock":
      return `munlock(mm${c.mm}, ${range(c.addr, c.len)})`;
    case "fork":
      return `fork(mm${c.mm}) → mm${c.child}${raceText(c.race)}`;
    case "exit":
      return `exit(mm${c.mm})`;
    case "exec":
      return `exec(mm${c.mm}, [${c.args.join(", ")}])${raceText(c.race)}`;
    case "read":
      return `read(mm${c.mm}, ${hex(c.addr)})`;
    case "write":
      return `write(mm${c.mm}, ${hex(c.addr)}, ${c.token})`;
    case "truncate":
      return `truncate(file${c.file}, ${c.size})${raceText(c.race)}`;
    case "swapout":
      return `swapout(page@mm${c.mm}:${hex(c.addr)})`;
    case "migrate":
      return `migrate(page@mm${c.mm}:${hex(c.addr)})`;
    case "reclaim":
      return `reclaim(${c.pages})`;
  }
}

/** The mm a command runs in, if any (truncate and reclaim are global). */
export function cmdMm(c: Cmd): MmId | undefined {
  return "mm" in c ? c.mm : undefined;
}
