/*
 * `rmapcheck conform`: the reference model and the simulated kernel agree with real Linux.
 *
 * One random plan (properties/generate.ts) is resolved command by command against a Session
 * (model + simulated kernel running one design). Before a command reaches either side,
 * hostFaithful() decides whether the host can execute it faithfully: commands whose
 * rmapcheck semantics deliberately differ from Linux are skipped, and mlock gets the writes
 * Linux's populate would do (docs/conform.md lists every restriction and why). The resulting
 * command list then runs on the host (conform/host.ts: one real process per mm) and the
 * three sides are compared after every command:
 *
 *   outcomes   every result (value, signal, errno, address) of model, simulated kernel, host
 *   sharing    which (mm, vpn) pairs map one frame, for every anonymous page (private anon
 *              and COW copies) and every written shared-file page, and each anonymous
 *              frame's mapcount (host: /proc/kpagecount)
 *
 * The host maps pages the simulation leaves unmapped (the zero page on a read of untouched
 * anon memory, fault-around of neighbouring page-cache pages on a file read fault), so only
 * pages that were written are compared; file pages' mapcounts are not compared at all.
 *
 * The conform world has enough frames that the simulated kernel never reclaims (the host has
 * no swap and never does either): sharing is then "same frame" on both sides, with no swap
 * slots to unify. Every simulated step asserts that no pressure reclaim happened.
 *
 * A disagreement is shrunk twice, like properties/property.ts: fast-check shrinks the plan,
 * then commands are deleted one at a time while the host still disagrees the same way (every
 * candidate runs on the host again, and must still pass hostFaithful unchanged). When model
 * and simulated kernel disagree, the host is asked the same question, so the report names
 * the odd side out.
 */
import fc from "fast-check";
import {
  type Cmd,
  type MmId,
  type Outcome,
  allOps,
  cmdToString,
  failAllocOf,
  isInvisible,
  outcomeToString,
  sameOutcome,
} from "../model/commands.js";
import { type ModelState, observe } from "../model/semantic.js";
import { type World, defaultWorld } from "../model/world.js";
import type { DesignInfo } from "../impl/design.js";
import { vmasIn } from "../impl/mmap.js";
import { type Mm, type Page, VM_SHARED } from "../impl/types.js";
import type { CheckId } from "../properties/checks.js";
import { type Plan, Resolver, planArbitrary } from "../properties/generate.js";
import { Session, type StepRecord } from "../properties/interpreter.js";
import { minimize } from "../properties/property.js";
import { type HostRun, type HostSnapshot, HostExecutorError, runOnHost } from "./host.js";
import { type FolioUse, type HostFolioUse, compareFolios, disturbance, thpAttempts, thpCounters } from "./thp.js";

// --- the world and the bounds ------------------------------------------------------------------

/**
 * The default world with enough frames that the simulated kernel never reclaims: every live
 * mm (at most mmLiveMax) may fill its window with anonymous pages, and every file may have
 * fileMaxPages pages in the page cache.
 */
export const conformWorld: World = {
  ...defaultWorld,
  frameCount: defaultWorld.mmLiveMax * defaultWorld.vpnLimit + defaultWorld.fileCount * defaultWorld.fileMaxPages,
};

/**
 * The world conform runs a design in: conformWorld, plus the design's folio order for the
 * large-folio designs (their 4-page folios are compared with the host's THPs, conform/thp.ts).
 */
export function conformWorldFor(design: DesignInfo): World {
  const order = design.world?.folioOrder;
  return order ? { ...conformWorld, folioOrder: order } : conformWorld;
}

export const defaultConformMaxCommands = 60;
export const DEFAULT_CONFORM_RUNS = 200;
/** Predicate evaluations fast-check may spend shrinking (each one runs the host). */
export const shrinkRunsMax = 300;
/** Host runs the command-level minimizer may spend. */
export const minimizeRunsMax = 400;

// --- which commands the host executes faithfully --------------------------------------------------

/** Why a command was kept from both sides (docs/conform.md explains each). */
export const restrictions = [
  "invisible",
  "outside-window",
  "below-mmap-base",
  "partial-hole",
  "madvise-locked-mixed",
  "mremap-source-hole",
  "mremap-multi-vma",
  "mremap-layout",
  "mremap-populates-locked",
  "mprotect-populates-locked",
  "mlock-sigbus",
  "failure-point",
  "exec",
  "thp-zero-read",
  "thp-single-mapping-cow",
] as const;
export type Restriction = (typeof restrictions)[number];

export type Verdict = { readonly run: readonly Cmd[] } | { readonly skip: Restriction };

const keep = (c: Cmd): Verdict => ({ run: [c] });
const skip = (why: Restriction): Verdict => ({ skip: why });

/**
 * Can the host execute `c` now, with the outcome and effects rmapcheck gives it? `run` is
 * what to execute instead: `c` itself, or for mlock the writes Linux's populate makes first.
 */
export function hostFaithful(s: Session, c: Cmd): Verdict {
  const w = s.world;
  const inWindow = (addr: number, len: number) =>
    Number.isInteger(addr) && Number.isInteger(len) && len >= 1 && addr >= 0 && addr + len <= w.vpnLimit;
  if (c.op === "swapout" || c.op === "migrate" || c.op === "reclaim") return skip("invisible");
  // The host has no fault injection (docs/conform.md): a failure point cannot run there.
  if (failAllocOf(c) !== undefined) return skip("failure-point");
  // The executor cannot exec a process and keep driving it (docs/conform.md); conformPlans
  // never generates one, so only a hand-written sequence meets this.
  if (c.op === "exec") return skip("exec");
  if (c.op === "truncate" || c.op === "fork" || c.op === "exit") return keep(c);
  const pages = s.model.mms[c.mm];
  if (!pages) return keep(c); // no such process: both sides skip it
  const span = (addr: number, len: number) => {
    let mapped = 0;
    for (let a = addr; a < addr + len; a++) if (pages[a]) mapped++;
    return mapped;
  };
  switch (c.op) {
    case "read":
      if (!inWindow(c.addr, 1)) return skip("outside-window");
      return s.kernel.folio && untouchedAnon(s, c.mm, c.addr) ? skip("thp-zero-read") : keep(c);
    case "write":
      if (!inWindow(c.addr, 1)) return skip("outside-window");
      return s.kernel.folio && singleMappingCow(s, c.mm, c.addr) ? skip("thp-single-mapping-cow") : keep(c);
    case "munmap":
      return inWindow(c.addr, c.len) ? keep(c) : skip("outside-window");
    case "mmap":
      if (c.len < 1 || c.len > w.vpnLimit) return skip("outside-window");
      if (!c.fixed) return keep(c);
      if (!inWindow(c.addr, c.len)) return skip("outside-window");
      return c.addr < w.mmapBase ? skip("below-mmap-base") : keep(c);
    case "mprotect":
    case "mlock":
    case "munlock":
    case "madvise": {
      if (!inWindow(c.addr, c.len)) return skip("outside-window");
      const mapped = span(c.addr, c.len);
      if (mapped === 0) return keep(c); // ENOMEM on both sides, nothing changes
      if (mapped < c.len) return skip("partial-hole");
      if (c.op === "madvise") return madviseFaithful(s, c);
      if (c.op === "mprotect") return mprotectFaithful(s, c);
      if (c.op === "mlock") return mlockFaithful(s, c);
      return keep(c);
    }
    case "mremap":
      return mremapFaithful(s, c, inWindow);
  }
}

/** Linux zaps vma by vma and fails at the first locked one: mixed ranges change partly. */
function madviseFaithful(s: Session, c: Extract<Cmd, { op: "madvise" }>): Verdict {
  const pages = s.model.mms[c.mm] ?? {};
  const locked = new Set<boolean>();
  for (let a = c.addr; a < c.addr + c.len; a++) locked.add(pages[a]?.locked === true);
  return locked.size > 1 ? skip("madvise-locked-mixed") : keep(c);
}

/**
 * mprotect(rw) of a locked private read-only vma populates it for write (kernel:
 * mprotect_fixup()), breaking COW and allocating pages the simulation does not.
 */
function mprotectFaithful(s: Session, c: Extract<Cmd, { op: "mprotect" }>): Verdict {
  if (c.prot !== "rw") return keep(c);
  const pages = s.model.mms[c.mm] ?? {};
  for (let a = c.addr; a < c.addr + c.len; a++) {
    const p = pages[a];
    if (p?.locked && p.kind !== "shared-file" && p.prot === "r" && !exclusiveAnon(s, c.mm, a)) {
      return skip("mprotect-populates-locked");
    }
  }
  return keep(c);
}

/**
 * mlock populates the range and reports populate's errors (kernel: do_mlock() →
 * __mm_populate(ignore_errors = 0)): a page past the end of its file stops the populate and
 * mlock returns ENOMEM, with the whole range already locked. Skipped. Otherwise the writes
 * Linux's populate makes come first.
 */
function mlockFaithful(s: Session, c: Extract<Cmd, { op: "mlock" }>): Verdict {
  for (let a = c.addr; a < c.addr + c.len; a++) if (observe(s.model, c.mm, a) === "SIGBUS") return skip("mlock-sigbus");
  if (s.kernel.folio) for (let a = c.addr; a < c.addr + c.len; a++) if (singleMappingCow(s, c.mm, a)) return skip("thp-single-mapping-cow");
  return { run: [...populateWrites(s, c.mm, c.addr, c.len), c] };
}

/**
 * Linux's mlock populates the range (kernel: populate_vma_page_range(), FOLL_WRITE on
 * writable private vmas): each page not already an exclusive anonymous page is write-faulted,
 * which breaks COW and gives untouched anon memory a zeroed page. Writing back the value the
 * page holds does exactly that and nothing else. Read-only and shared pages are only
 * read-faulted: invisible here.
 */
function populateWrites(s: Session, mm: MmId, addr: number, len: number): Cmd[] {
  const pages = s.model.mms[mm] ?? {};
  const out: Cmd[] = [];
  for (let a = addr; a < addr + len; a++) {
    const p = pages[a];
    if (!p || p.kind === "shared-file" || p.prot !== "rw" || exclusiveAnon(s, mm, a)) continue;
    out.push({ op: "write", mm, addr: a, token: observe(s.model, mm, a) as number });
  }
  return out;
}

/**
 * A read of private anonymous memory the simulated kernel has not mapped (THP mode): Linux
 * maps the huge zero page there (do_huge_pmd_anonymous_page(), use_zero_page), which a later
 * write replaces with a fresh THP, as the simulation's write fault allocates one. Hosts that
 * do not use the zero page (the 6.18 guest rmapcheck is developed on) allocate a THP at the
 * read instead, which a fork then shares and a COW splits: a different folio history. Such
 * reads return 0 on every side and are kept from both (docs/conform.md).
 */
function untouchedAnon(s: Session, mm: MmId, addr: number): boolean {
  const m = s.kernel.mms.get(mm);
  if (!m || m.pt.has(addr)) return false;
  const vma = m.vmas.find((v) => v.vmStart <= addr && addr < v.vmEnd);
  return vma !== undefined && vma.vmFile === null && (vma.vmFlags & VM_SHARED) === 0;
}

/**
 * A write fault (THP mode) on a page of a PTE-mapped large folio that is not
 * PageAnonExclusive and is the folio's only mapping: __wp_can_reuse_large_anon_folio()
 * copies it ("Let's just free up a large folio if only a single page is mapped",
 * folio_large_mapcount() <= 1). On the host the model page is `scale` 4 KiB pages, so the
 * folio has `scale` mappings there and the same state is reused: a threshold counted in
 * 4 KiB pages does not scale. Kept from both sides (docs/conform.md); found by conform.
 */
function singleMappingCow(s: Session, mm: MmId, addr: number): boolean {
  const m = s.kernel.mms.get(mm);
  const pte = m?.pt.get(addr);
  const layer = s.kernel.folio;
  if (!m || !layer || pte?.kind !== "present" || pte.writable) return false;
  const page = s.kernel.pageAt(pte.pfn);
  const f = page ? layer.folioOf.get(page) : undefined;
  if (!page || !f || layer.pmdOf(m, addr) === f) return false;
  return !f.anonExclusive[f.pages.indexOf(page)] && f.largeMapcount === 1;
}

/** The simulated kernel maps (mm, addr) with an anonymous page no one else maps. */
function exclusiveAnon(s: Session, mm: MmId, addr: number): boolean {
  const pte = s.kernel.mms.get(mm)?.pt.get(addr);
  if (pte?.kind !== "present") return false;
  const page = s.kernel.pageAt(pte.pfn);
  if (page?.anon !== true) return false;
  // A large folio's page: whether a write fault would reuse it (impl/folio.ts canReuse()).
  return s.kernel.folio ? s.kernel.folio.canReuse(page, s.kernel.mms.get(mm) as Mm, addr) : page.mapcount === 1;
}

function mremapFaithful(
  s: Session,
  c: Extract<Cmd, { op: "mremap" }>,
  inWindow: (addr: number, len: number) => boolean,
): Verdict {
  if (!inWindow(c.addr, c.len) || c.newLen < 1) return skip("outside-window");
  if (c.fixed && (c.newAddr === undefined || !inWindow(c.newAddr, c.newLen))) return skip("outside-window");
  if (c.fixed && (c.newAddr ?? 0) < s.world.mmapBase) return skip("below-mmap-base");
  const pages = s.model.mms[c.mm] ?? {};
  // An unmapped first page: EFAULT (or the overlap's EINVAL, checked first) on both sides.
  if (!pages[c.addr]) return keep(c);
  for (let a = c.addr; a < c.addr + c.len; a++) if (!pages[a]) return skip("mremap-source-hole");
  // Linux 6.17+ moves a multi-vma range as a pure move (MREMAP_FIXED, same length), and a
  // shrink in place only looks up the first vma; anything else needs the part that stays,
  // [addr, addr + min(len, newLen)), inside one vma (kernel: remap_is_valid(), else EFAULT).
  const pureMove = c.fixed && c.newLen === c.len;
  const shrinkInPlace = !c.fixed && c.newLen <= c.len;
  const mm = s.kernel.mms.get(c.mm);
  if (mm && !pureMove && !shrinkInPlace) {
    const kept = Math.min(c.len, c.newLen);
    const vmas = vmasIn(mm, c.addr, c.addr + kept);
    if (vmas.length > 1) return skip("mremap-multi-vma");
    const vma = vmas[0];
    // Where the design has no anon object, it cannot say whether Linux's vma has an
    // anon_vma, so whether Linux kept apart what the simulation merged (scan: never).
    if (vma && kept > 1 && (vma.vmFlags & VM_SHARED) === 0 && !s.kernel.design.hasAnonObject(vma)) {
      return skip("mremap-layout");
    }
  }
  const last = pages[c.addr + c.len - 1];
  if (c.newLen > c.len && last?.locked && last.kind !== "shared-file" && last.prot === "rw") {
    return skip("mremap-populates-locked"); // kernel: do_mremap() → mm_populate() of the growth
  }
  return keep(c);
}

// --- the simulated side ------------------------------------------------------------------------

/** One frame's sharers, as the comparison sees them. */
interface FrameUse {
  readonly frame: number;
  readonly mapcount: number;
}

/** What is compared after a step: (mm, vpn) key → its frame. */
export interface Sharing {
  /** Anonymous pages (private anon, COW copies), keyed "mm1:0x3". */
  readonly anon: ReadonlyMap<string, FrameUse>;
  /** Shared-file pages this mm has written through the PTE at that address. */
  readonly dirtyShared: ReadonlyMap<string, FrameUse>;
  /**
   * Private anonymous addresses where the simulated kernel maps nothing: never faulted, or
   * only read (what Linux maps there on a read is the shared zero page, which the simulation
   * leaves out). A host that does not use the zero page (seen on a 6.18 Firecracker guest:
   * a read fault allocates a zeroed anonymous page) maps a page of its own at such an address,
   * COW-shared after a fork; it holds zeros, as the zero page would, and is not compared.
   */
  readonly zeroFill: ReadonlySet<string>;
  /** Large-folio designs only (THP mode): each anonymous page's folio and PMD mapping. */
  readonly folios?: ReadonlyMap<string, FolioUse>;
}

export interface SimStep {
  readonly cmd: Cmd;
  readonly model: Outcome;
  readonly kernel: Outcome;
  /** The model state after the step (for planted host rewrites in tests). */
  readonly state: ModelState;
  readonly sharing: Sharing;
}

export interface Simulated {
  readonly commands: Cmd[];
  readonly steps: SimStep[];
  /** The model and the simulated kernel disagreed (or a checker failed) at the last step. */
  readonly violation?: { invariant: CheckId; message: string; expected?: string; actual?: string };
  /** After a "would read" violation: the pages where model and simulated kernel differ. */
  readonly probes?: readonly Probe[];
  /** A command of a given list that hostFaithful would not run as it stands. */
  readonly unfaithful?: { index: number; why: string };
  readonly skipped: Partial<Record<Restriction, number>>;
  /** Writes inserted before mlock (Linux's populate). */
  readonly populateWrites: number;
}

const key = (mm: number, vpn: number) => `mm${mm}:0x${vpn.toString(16)}`;

/** A page whose value model and simulated kernel dispute; the host is asked to read it. */
export interface Probe {
  readonly mm: MmId;
  readonly addr: number;
  readonly model: string;
  readonly kernel: string;
}

/** Most pages the host is asked to read after a disputed step. */
const probesMax = 4;

function disputedPages(s: Session): Probe[] {
  const out: Probe[] = [];
  for (const [id, pages] of Object.entries(s.model.mms)) {
    const mm = s.kernel.mms.get(Number(id));
    if (!mm) continue;
    for (const a of Object.keys(pages)) {
      const addr = Number(a);
      const want = observe(s.model, Number(id), addr);
      const got = s.kernel.peek(mm, addr);
      if (want !== got && out.length < probesMax) out.push({ mm: Number(id), addr, model: String(want), kernel: String(got) });
    }
  }
  return out;
}

/** The simulated kernel's sharing now. */
export function simSharing(s: Session): Sharing {
  const k = s.kernel;
  const anon = new Map<string, FrameUse>();
  const dirtyShared = new Map<string, FrameUse>();
  const zeroFill = new Set<string>();
  const layer = k.folio;
  const folios = layer ? new Map<string, FolioUse>() : undefined;
  for (const mm of [...k.mms.values()].sort((a, b) => a.id - b.id)) {
    for (const vma of mm.vmas) {
      const privateAnon = vma.vmFile === null && (vma.vmFlags & VM_SHARED) === 0;
      for (let addr = vma.vmStart; addr < vma.vmEnd; addr++) {
        const pte = mm.pt.get(addr);
        if (pte === undefined && privateAnon) zeroFill.add(key(mm.id, addr));
        if (pte?.kind !== "present") continue;
        const page = k.pageAt(pte.pfn) as Page;
        const use = { frame: pte.pfn, mapcount: page.mapcount };
        if (page.anon) anon.set(key(mm.id, addr), use);
        if (page.anon && layer && folios) {
          const f = layer.folioOf.get(page);
          folios.set(key(mm.id, addr), { folio: f ? f.id : 0, pmd: f !== undefined && layer.pmdOf(mm, addr) === f });
        }
        else if ((vma.vmFlags & VM_SHARED) !== 0 && pte.dirty) dirtyShared.set(key(mm.id, addr), use);
      }
    }
  }
  return folios ? { anon, dirtyShared, zeroFill, folios } : { anon, dirtyShared, zeroFill };
}

export interface SideOptions {
  readonly design: DesignInfo;
  readonly mutant?: string;
  readonly quirks?: readonly string[];
  readonly world?: World;
}

class Simulation {
  readonly session: Session;
  readonly commands: Cmd[] = [];
  readonly steps: SimStep[] = [];
  readonly skipped: Partial<Record<Restriction, number>> = {};
  populateWrites = 0;
  violation?: Simulated["violation"];
  probes?: Probe[];

  constructor(opts: SideOptions) {
    this.session = new Session(opts.design, { ...opts, world: opts.world ?? conformWorldFor(opts.design), checkEvery: 1 });
  }

  /** Apply one command to model and simulated kernel; false once they disagree. */
  apply(cmd: Cmd): boolean {
    const r = this.session.apply(cmd);
    const k = this.session.kernel;
    if (k.counters.pressureReclaims > 0 || k.counters.emergencyFrames > 0) {
      throw new Error(`conform: the simulated kernel reclaimed at ${cmdToString(cmd)}; the conform world has too few frames`);
    }
    this.commands.push(cmd);
    this.steps.push({
      cmd,
      model: r.record.model,
      kernel: r.record.kernel,
      state: this.session.model,
      sharing: simSharing(this.session),
    });
    if (r.violation) {
      this.violation = r.violation;
      if (r.violation.invariant === "SEMANTIC") this.probes = disputedPages(this.session);
    }
    return !r.violation;
  }

  result(unfaithful?: Simulated["unfaithful"]): Simulated {
    return {
      commands: this.commands,
      steps: this.steps,
      skipped: this.skipped,
      populateWrites: this.populateWrites,
      ...(this.violation ? { violation: this.violation } : {}),
      ...(this.probes ? { probes: this.probes } : {}),
      ...(unfaithful ? { unfaithful } : {}),
    };
  }
}

/** Resolve a plan into a host-faithful command list, running it on model and simulated kernel. */
export function simulatePlan(plan: Plan, opts: SideOptions): Simulated {
  const sim = new Simulation(opts);
  const resolver = new Resolver(sim.session.world, plan.weights);
  for (const choice of plan.choices) {
    const v = hostFaithful(sim.session, resolver.resolve(sim.session.model, choice));
    if ("skip" in v) {
      sim.skipped[v.skip] = (sim.skipped[v.skip] ?? 0) + 1;
      continue;
    }
    sim.populateWrites += v.run.length - 1;
    for (const c of v.run) if (!sim.apply(c)) return sim.result();
  }
  return sim.result();
}

/** Run a given command list; every command must pass hostFaithful unchanged. */
export function simulateCommands(cmds: readonly Cmd[], opts: SideOptions): Simulated {
  const sim = new Simulation(opts);
  for (const [index, c] of cmds.entries()) {
    const v = hostFaithful(sim.session, c);
    if ("skip" in v) return sim.result({ index, why: v.skip });
    if (v.run.length !== 1) return sim.result({ index, why: "mlock without the writes Linux's populate makes" });
    if (!sim.apply(c)) return sim.result();
  }
  return sim.result();
}

// --- comparing with the host -------------------------------------------------------------------

export type DisagreementKind = "outcome" | "sharing" | "simulation";

export interface Disagreement {
  readonly kind: DisagreementKind;
  /** Index of the command after which the sides differ. */
  readonly step: number;
  /** SEMANTIC for a host disagreement; the checker's own id for model vs simulated kernel. */
  readonly invariant: CheckId;
  readonly message: string;
  readonly expected: string;
  readonly actual: string;
}

/** The host's command list, when a test plants a difference: each command's origin index. */
export interface HostScript {
  readonly cmds: readonly Cmd[];
  /** For each host command, the index of the command it stands for, or -1 (host only). */
  readonly origin: readonly number[];
}

export type HostRewrite = (sim: Simulated) => HostScript;

/** Per original command: its host outcome and the host snapshot after it (and its host-only followers). */
export interface HostSide {
  readonly outcomes: readonly (Outcome | undefined)[];
  readonly snapshots: readonly (HostSnapshot | undefined)[];
}

export function hostSide(n: number, script: HostScript, run: HostRun): HostSide {
  const outcomes: (Outcome | undefined)[] = new Array(n).fill(undefined);
  const snapshots: (HostSnapshot | undefined)[] = new Array(n).fill(undefined);
  const byIndex = new Map(run.snapshots.map((s) => [s.afterCmd, s]));
  script.origin.forEach((o, j) => {
    if (o < 0) return;
    outcomes[o] = run.outcomes[j];
    // The snapshot after the last host command that belongs to o (o's host-only followers).
    let end = j;
    while (end + 1 < script.origin.length && script.origin[end + 1] === -1) end++;
    snapshots[o] = byIndex.get(end);
  });
  return { outcomes, snapshots };
}

const sameSide = (a: Outcome, b: Outcome) => (a.kind === "skip" && b.kind === "skip") || sameOutcome(a, b);

/** What the comparisons covered, so that "agree" is seen not to be vacuous. */
export interface Tally {
  outcomes: number;
  snapshots: number;
  /** (mm, vpn) pairs mapping an anonymous page, summed over snapshots. */
  anonPages: number;
  /** Anonymous frames mapped by two or more pairs, summed over snapshots. */
  sharedAnonFrames: number;
  /** Written shared-file pairs, summed over snapshots. */
  dirtySharedPages: number;
  /** THP mode: anonymous pairs in a large folio, and of those mapped by a PMD, summed over snapshots. */
  largeFolioPages?: number;
  pmdMappedPages?: number;
}

export const emptyTally = (): Tally => ({ outcomes: 0, snapshots: 0, anonPages: 0, sharedAnonFrames: 0, dirtySharedPages: 0 });

function count(t: Tally, sharing: Sharing): void {
  t.snapshots++;
  t.anonPages += sharing.anon.size;
  for (const c of classes(sharing.anon).values()) if (c.length > 1) t.sharedAnonFrames++;
  t.dirtySharedPages += sharing.dirtyShared.size;
  if (sharing.folios) {
    for (const u of sharing.folios.values()) {
      if (u.folio === 0) continue;
      t.largeFolioPages = (t.largeFolioPages ?? 0) + 1;
      if (u.pmd) t.pmdMappedPages = (t.pmdMappedPages ?? 0) + 1;
    }
  }
}

/** The first place where the host differs from the model and the simulated kernel. */
export function compareSides(sim: Simulated, host: HostSide, tally?: Tally): Disagreement | undefined {
  for (const [i, step] of sim.steps.entries()) {
    const h = host.outcomes[i];
    if (h === undefined) throw new Error(`conform: no host outcome for step ${i}`);
    if (tally) tally.outcomes++;
    if (!sameSide(step.kernel, h)) {
      return {
        kind: "outcome",
        step: i,
        invariant: "SEMANTIC",
        message: `${cmdToString(step.cmd)}: the host returned ${outcomeToString(h)}, the model and the simulated kernel ${outcomeToString(step.kernel)}`,
        ...sides(outcomeToString(step.model), outcomeToString(step.kernel), outcomeToString(h)),
      };
    }
    const snap = host.snapshots[i];
    if (!snap) continue;
    if (tally) count(tally, step.sharing);
    const diff = compareSharing(step.sharing, snap);
    if (diff) {
      return {
        kind: "sharing",
        step: i,
        invariant: "SEMANTIC",
        message: `after ${cmdToString(step.cmd)}: ${diff.what}`,
        expected: `simulated kernel (the model has no frames): ${diff.sim}`,
        actual: `host: ${diff.host}`,
      };
    }
  }
  return undefined;
}

interface HostUse extends FrameUse {
  readonly anon: boolean;
}

/** The host's view of one snapshot: every present page that is not the zero page. */
function hostUses(snap: HostSnapshot): Map<string, HostUse> {
  const out = new Map<string, HostUse>();
  for (const p of snap.pages) {
    if (!p.present || p.zeroPage) continue;
    out.set(key(p.mm, p.vpn), { frame: p.pfn, mapcount: p.mapcount, anon: p.anon });
  }
  return out;
}

/** Group keys by frame: frame → keys in order. */
function classes(uses: Iterable<[string, FrameUse]>): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const [k, u] of uses) {
    const c = out.get(u.frame);
    if (c) c.push(k);
    else out.set(u.frame, [k]);
  }
  return out;
}

const showClass = (keys: readonly string[]) => `{${keys.join(", ")}}`;
const together = (keys: readonly string[]) =>
  keys.length === 1 ? `${keys[0]} has a frame of its own` : `${showClass(keys)} share one frame`;

/** The first difference in sharing between the simulated kernel and a host snapshot. */
export function compareSharing(sim: Sharing, snap: HostSnapshot): { what: string; sim: string; host: string } | undefined {
  const host = hostUses(snap);
  const hostAnon = new Map([...host].filter(([k, u]) => u.anon && !sim.zeroFill.has(k)));
  for (const [k, u] of sim.anon) {
    if (!hostAnon.has(k)) {
      const h = host.get(k);
      const said = h ? `maps a file page (pfn ${h.frame})` : "maps no page there (or the zero page)";
      return { what: `${k} maps an anonymous page in the simulated kernel, not on the host`, sim: `${k} anonymous, mapcount ${u.mapcount}`, host: `${k} ${said}` };
    }
  }
  for (const [k, u] of hostAnon) {
    if (!sim.anon.has(k)) {
      return {
        what: `${k} maps an anonymous page on the host, not in the simulated kernel`,
        sim: `${k} has no anonymous page`,
        host: `${k} anonymous, pfn ${u.frame}, mapcount ${u.mapcount}`,
      };
    }
  }
  const anonDiff = comparePartition(sim.anon, hostAnon, true);
  if (anonDiff) return anonDiff;
  if (sim.folios) {
    const hostFolios = new Map<string, HostFolioUse>();
    for (const p of snap.pages) {
      if (!p.present || !p.anon || p.zeroPage) continue;
      const large = p.largeFolio && p.thp;
      hostFolios.set(key(p.mm, p.vpn), { folio: large ? p.head : 0, pmd: p.pmd, pfn: p.pfn });
    }
    const folioDiff = compareFolios(sim.folios, hostFolios);
    if (folioDiff) return folioDiff;
  }
  const shared = new Map<string, FrameUse>();
  for (const k of sim.dirtyShared.keys()) {
    const h = host.get(k);
    if (!h || h.anon) {
      return {
        what: `${k} maps a shared-file page it wrote in the simulated kernel, not on the host`,
        sim: `${k} maps the written file page`,
        host: h ? `${k} maps an anonymous page` : `${k} maps nothing`,
      };
    }
    shared.set(k, h);
  }
  return comparePartition(sim.dirtyShared, shared, false);
}

/** Same partition into frames on both sides (and, for anon pages, the same mapcounts). */
function comparePartition(
  sim: ReadonlyMap<string, FrameUse>,
  host: ReadonlyMap<string, FrameUse>,
  mapcounts: boolean,
): { what: string; sim: string; host: string } | undefined {
  const simClasses = classes(sim);
  const hostClasses = classes(host);
  for (const cls of simClasses.values()) {
    const first = cls[0] as string;
    const hostFrame = (host.get(first) as FrameUse).frame;
    const hostCls = hostClasses.get(hostFrame) ?? [];
    const simUse = sim.get(first) as FrameUse;
    const hostUse = host.get(first) as FrameUse;
    if (showClass(cls) !== showClass(hostCls)) {
      const members = [...new Set([...cls, ...hostCls])];
      const frames = members.map((k) => {
        const u = host.get(k) as FrameUse;
        return `${k} → pfn ${u.frame}${mapcounts ? ` (mapcount ${u.mapcount})` : ""}`;
      });
      return {
        what: `${together(cls)} in the simulated kernel, but ${together(hostCls)} on the host`,
        sim: `${together(cls)}${mapcounts ? ` (mapcount ${simUse.mapcount})` : ""}`,
        host: frames.join(", "),
      };
    }
    if (mapcounts && simUse.mapcount !== hostUse.mapcount) {
      return {
        what: `the frame of ${showClass(cls)} has mapcount ${simUse.mapcount} in the simulated kernel, ${hostUse.mapcount} on the host`,
        sim: `${showClass(cls)} mapcount ${simUse.mapcount}`,
        host: `${showClass(cls)} pfn ${hostFrame} mapcount ${hostUse.mapcount}`,
      };
    }
  }
  return undefined;
}

// --- one sequence on all three sides -----------------------------------------------------------

export interface ConformOptions extends SideOptions {
  /** Host snapshots after every command (else only after the last). */
  readonly snapshotEvery?: boolean;
  /**
   * THP mode (conform/thp.ts, from thpSupport()): every model page is `scale` host pages and
   * anonymous mappings get MADV_HUGEPAGE; large folios are compared. Required for a design
   * whose world has a folio order.
   */
  readonly thp?: { readonly scale: number };
  /** Tests only: plant a difference by rewriting what the host executes. */
  readonly hostRewrite?: HostRewrite;
}

export interface SequenceVerdict {
  readonly sim: Simulated;
  readonly host?: HostSide;
  readonly disagreement?: Disagreement;
}

const identity = (sim: Simulated): HostScript => ({ cmds: sim.commands, origin: sim.commands.map((_, i) => i) });

/** Three answers to one question, told as the sides that agree and the odd one out. */
export function sides(model: string, kernel: string, host: string | undefined): { expected: string; actual: string } {
  if (host === undefined) return { expected: `model: ${model}`, actual: `simulated kernel: ${kernel}` };
  if (model === kernel) return { expected: `model and simulated kernel: ${model}`, actual: `host: ${host}` };
  if (host === model) return { expected: `model and host: ${model}`, actual: `simulated kernel: ${kernel}` };
  if (host === kernel) return { expected: `simulated kernel and host: ${kernel}`, actual: `model: ${model}` };
  return { expected: `model: ${model}`, actual: `simulated kernel: ${kernel}; host: ${host}` };
}

/** A host read as the checker prints an observation: a number or a signal name. */
const observed = (o: Outcome | undefined): string | undefined =>
  o === undefined ? undefined : o.kind === "value" ? String(o.value) : o.kind === "signal" ? o.signal : outcomeToString(o);

/** Run what the simulation executed on the host too, and compare. */
export function judge(sim: Simulated, opts: ConformOptions, tally?: Tally): SequenceVerdict {
  if (sim.unfaithful || sim.commands.length === 0) return { sim };
  const base = (opts.hostRewrite ?? identity)(sim);
  // After a disputed step, the host also reads the disputed pages (host-only commands).
  const probes = sim.probes ?? [];
  const script: HostScript = {
    cmds: [...base.cmds, ...probes.map((p): Cmd => ({ op: "read", mm: p.mm, addr: p.addr }))],
    origin: [...base.origin, ...probes.map(() => -1)],
  };
  const run = hostRun(script.cmds, opts);
  const host = hostSide(sim.commands.length, script, run);
  if (!sim.violation) return { sim, host, disagreement: compareSides(sim, host, tally) };
  return { sim, host, disagreement: simulationDisagreement(sim, host, run.outcomes.slice(run.outcomes.length - probes.length)) };
}

/**
 * One host execution. In THP mode a run during which the host did something on its own that
 * changes large folios (khugepaged, an allocation fallback, a split: conform/thp.ts) is
 * repeated; after thpAttempts disturbed runs, conform gives up with one line.
 */
/** THP mode: host runs repeated because the host changed large folios on its own (per process). */
export const hostDisturbances = { repeated: 0, last: "" };

function hostRun(cmds: readonly Cmd[], opts: ConformOptions): HostRun {
  const world = opts.world ?? conformWorldFor(opts.design);
  if (world.folioOrder && !opts.thp) {
    throw new HostExecutorError(`${opts.design.name} has large folios: conform compares them only in THP mode (thpSupport())`);
  }
  if (!opts.thp) return runOnHost(cmds, world, { snapshotEvery: opts.snapshotEvery ?? true });
  let why = "";
  for (let attempt = 0; attempt < thpAttempts; attempt++) {
    const before = thpCounters();
    const run = runOnHost(cmds, world, { snapshotEvery: opts.snapshotEvery ?? true, thp: opts.thp });
    const moved = disturbance(before, thpCounters());
    if (moved === undefined) return run;
    why = moved;
    hostDisturbances.repeated++;
    hostDisturbances.last = moved;
  }
  throw new HostExecutorError(`the host changed large folios on its own in ${thpAttempts} runs of the same commands (${why}): THP cannot be compared now`);
}

/** Model and simulated kernel disagree: the host's answer to the same question names the odd side. */
function simulationDisagreement(sim: Simulated, host: HostSide, reads: readonly Outcome[]): Disagreement {
  const step = sim.steps.length - 1;
  const last = sim.steps[step] as SimStep;
  const v = sim.violation as NonNullable<Simulated["violation"]>;
  const base = { kind: "simulation" as const, step, invariant: v.invariant };
  if (!sameSide(last.model, last.kernel)) {
    const h = host.outcomes[step];
    const said = sides(outcomeToString(last.model), outcomeToString(last.kernel), h && outcomeToString(h));
    return { ...base, message: `${v.message}; the host returned ${h ? outcomeToString(h) : "nothing"}`, ...said };
  }
  const probe = sim.probes?.[0];
  if (probe) {
    const h = observed(reads[0]);
    const said = sides(probe.model, probe.kernel, h);
    return { ...base, message: `${v.message}; the host reads ${h ?? "nothing"} at ${key(probe.mm, probe.addr)}`, ...said };
  }
  // An rmap invariant (I1–I11): the host has no counterpart to compare.
  return { ...base, message: v.message, expected: v.expected ?? `${v.invariant} holds`, actual: `simulated kernel: ${v.actual ?? v.message}` };
}

export const runPlan = (plan: Plan, opts: ConformOptions, tally?: Tally): SequenceVerdict =>
  judge(simulatePlan(plan, opts), opts, tally);
export const runCommands = (cmds: readonly Cmd[], opts: ConformOptions): SequenceVerdict =>
  judge(simulateCommands(cmds, opts), opts);

// --- the search --------------------------------------------------------------------------------

export interface ConformSearchOptions extends ConformOptions {
  readonly seed: number;
  readonly runs: number;
  readonly maxCommands?: number;
  readonly swarm?: boolean;
  readonly onRun?: (runsDone: number, commands: number) => void;
  /** Budgets (default shrinkRunsMax, minimizeRunsMax): each unit is one host execution. */
  readonly shrinkRuns?: number;
  readonly minimizeRuns?: number;
}

export interface TraceLine {
  readonly cmd: Cmd;
  readonly model: Outcome;
  readonly kernel: Outcome;
  readonly host?: Outcome;
}

export interface ConformCounterexample {
  readonly commands: Cmd[];
  readonly disagreement: Disagreement;
  readonly trace: TraceLine[];
  /** For properties/report.ts: the simulated side as StepRecords. */
  readonly records: StepRecord[];
  readonly foundLength: number;
  readonly runsToFailure: number;
  readonly commandsToFailure: number;
  /** Indices whose deletion makes the disagreement go away (or the list unfaithful). */
  readonly essential: number[];
}

export interface ConformResult {
  readonly design: string;
  readonly seed: number;
  readonly runs: number;
  /** Commands executed on all three sides, before any shrinking. */
  readonly commands: number;
  /** Host executions, shrinking included. */
  readonly hostRuns: number;
  readonly ok: boolean;
  readonly skipped: Record<Restriction, number>;
  readonly populateWrites: number;
  /** What was compared in the runs before the first disagreement. */
  readonly compared: Tally;
  readonly counterexample?: ConformCounterexample;
}

/** The generator's plans with the invisible ops (swap-out, migration, reclaim) and exec switched off. */
export function conformPlans(maxCommands: number, swarm: boolean): fc.Arbitrary<Plan> {
  return planArbitrary({ maxCommands, swarm }).map((p) => ({
    ...p,
    exec: false,
    weights: p.weights.map((w, i) => (isInvisible({ op: allOps[i] } as Cmd) || allOps[i] === "exec" ? 0 : w)),
  }));
}

/** Search for a disagreement with the host; deterministic for a seed (given the same host). */
export function checkConformance(opts: ConformSearchOptions): ConformResult {
  const maxCommands = opts.maxCommands ?? defaultConformMaxCommands;
  const skipped = Object.fromEntries(restrictions.map((r) => [r, 0])) as Record<Restriction, number>;
  let runs = 0;
  let commands = 0;
  let hostRuns = 0;
  let populate = 0;
  let shrinkRuns = 0;
  let first: { verdict: SequenceVerdict; runs: number; commands: number } | undefined;
  const compared = emptyTally();
  const property = fc.property(conformPlans(maxCommands, opts.swarm ?? true), (plan) => {
    if (first !== undefined && ++shrinkRuns > (opts.shrinkRuns ?? shrinkRunsMax)) return true;
    const v = runPlan(plan, opts, first === undefined ? compared : undefined);
    if (v.host) hostRuns++;
    if (first === undefined) {
      runs++;
      commands += v.sim.commands.length;
      populate += v.sim.populateWrites;
      for (const [r, n] of Object.entries(v.sim.skipped)) skipped[r as Restriction] += n;
      opts.onRun?.(runs, commands);
      if (v.disagreement) first = { verdict: v, runs, commands };
    }
    return v.disagreement === undefined;
  });
  const details = fc.check(property, { seed: opts.seed, numRuns: opts.runs });
  const base = { design: opts.design.name, seed: opts.seed, runs, commands, skipped, populateWrites: populate, compared };
  if (!details.failed || first === undefined) return { ...base, hostRuns, ok: true };

  const found = first.verdict.disagreement as Disagreement;
  const shrunkPlan = (details.counterexample as [Plan])[0];
  const shrunk = runPlan(shrunkPlan, opts);
  hostRuns++;
  const start = shrunk.disagreement?.kind === found.kind ? shrunk.sim.commands : first.verdict.sim.commands;
  const min = minimizeConform(start, found, opts, opts.minimizeRuns ?? minimizeRunsMax);
  hostRuns += min.hostRuns;
  const cx = counterexample(min.verdict, opts, {
    foundLength: first.verdict.sim.commands.length,
    runsToFailure: first.runs,
    commandsToFailure: first.commands,
  });
  hostRuns += cx.commands.length;
  return { ...base, hostRuns, ok: false, counterexample: cx };
}

/**
 * Delete commands one at a time (a fork: or fold its child into the parent) while the sides
 * still disagree the same way: a 1-minimal list (unless the budget ran out). Model-vs-simulated-kernel disagreements need no host
 * and go through properties/property.ts minimize().
 */
export function minimizeConform(
  cmds: readonly Cmd[],
  found: Disagreement,
  opts: ConformOptions,
  budget = minimizeRunsMax,
): { verdict: SequenceVerdict; hostRuns: number } {
  if (found.kind === "simulation") {
    const min = minimize(cmds, found.invariant, { ...opts, world: opts.world ?? conformWorldFor(opts.design) });
    const verdict = runCommands(min.commands, opts);
    // The simulation minimizer ignores host faithfulness; fall back if it broke it.
    if (verdict.disagreement?.kind === "simulation") return { verdict, hostRuns: 1 };
  }
  let hostRuns = 0;
  const fails = (c: readonly Cmd[]) => {
    if (hostRuns >= budget) return undefined;
    const v = runCommands(c, opts);
    if (v.host) hostRuns++;
    return v.disagreement?.kind === found.kind ? v : undefined;
  };
  let verdict = fails(cmds);
  if (!verdict) throw new Error(`conform: the sequence no longer disagrees (${found.kind}); is the host deterministic?`);
  let best = cmds.slice(0, (verdict.disagreement as Disagreement).step + 1);
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = best.length - 1; i >= 0; i--) {
      let v: SequenceVerdict | undefined;
      for (const candidate of deletions(best, i)) if (!v) v = fails(candidate);
      if (!v) continue;
      best = v.sim.commands.slice(0, (v.disagreement as Disagreement).step + 1);
      verdict = v;
      changed = true;
    }
  }
  const final = runCommands(best, opts);
  return { verdict: final.disagreement?.kind === found.kind ? final : verdict, hostRuns: hostRuns + 1 };
}

/**
 * Ways to drop command i: delete it; and for a fork, also let the parent do what the child
 * did (its later commands renamed), since deleting a fork alone orphans every command of the
 * child and its descendants.
 */
function deletions(cmds: readonly Cmd[], i: number): Cmd[][] {
  const out = [[...cmds.slice(0, i), ...cmds.slice(i + 1)]];
  const c = cmds[i];
  if (c?.op === "fork") {
    const renamed = cmds.slice(i + 1).map((d): Cmd => ("mm" in d && d.mm === c.child ? { ...d, mm: c.mm } : d));
    out.push([...cmds.slice(0, i), ...renamed]);
  }
  return out;
}

function counterexample(
  v: SequenceVerdict,
  opts: ConformOptions,
  found: { foundLength: number; runsToFailure: number; commandsToFailure: number },
): ConformCounterexample {
  const d = v.disagreement as Disagreement;
  const commands = v.sim.commands.slice(0, d.step + 1);
  const trace = v.sim.steps.slice(0, d.step + 1).map((s, i) => ({
    cmd: s.cmd,
    model: s.model,
    kernel: s.kernel,
    ...(v.host?.outcomes[i] ? { host: v.host.outcomes[i] } : {}),
  }));
  const essential = commands
    .map((_, i) => i)
    .filter((i) => runCommands([...commands.slice(0, i), ...commands.slice(i + 1)], opts).disagreement?.kind !== d.kind);
  return {
    commands,
    disagreement: d,
    trace,
    records: trace.map((t, index) => ({ index, cmd: t.cmd, model: t.model, kernel: t.kernel })),
    essential,
    ...found,
  };
}
