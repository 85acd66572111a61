/*
 * Runs a command list on the real Linux host through the native executor
 * (conform/executor.c, built by scripts/build-executor.mjs into conform/build/executor), so
 * the reference model's outcomes, and which (process, address) pairs share a physical
 * frame, can be compared with real Linux.
 *
 * The executor speaks a line protocol, documented at the top of executor.c: one request per
 * line in, one result line per command out, plus `snapshot-begin` … `snapshot-end` blocks.
 */
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Cmd, MmId, Outcome, Vpn } from "../model/commands.js";
import type { World } from "../model/world.js";

export type HostSupport = { ok: true } | { ok: false; why: string };

/** One page of one process's window, as /proc/PID/pagemap and /proc/kpage* report it. */
export interface HostPage {
  readonly mm: MmId;
  readonly vpn: Vpn;
  readonly present: boolean;
  /** Physical frame number; 0 when not present. */
  readonly pfn: number;
  readonly swapped: boolean;
  /** /proc/kpagecount of the frame (0 for the shared zero page); 0 when not present. */
  readonly mapcount: number;
  /** The frame is the kernel's shared zero page (a read of never-written private memory). */
  readonly zeroPage: boolean;
  readonly anon: boolean;
  /** The frame belongs to a large folio (kpageflags COMPOUND_HEAD or COMPOUND_TAIL). */
  readonly largeFolio: boolean;
  /** kpageflags KPF_THP: the frame is part of a transparent huge page (a large anon folio). */
  readonly thp: boolean;
  /** The pfn of the head page of the frame's folio (the pfn itself for a small folio). */
  readonly head: number;
  /** PAGEMAP_SCAN's PAGE_IS_HUGE: the page is mapped by a PMD (THP mode only; else false). */
  readonly pmd: boolean;
}

export interface HostSnapshot {
  /** Index of the last command executed before the snapshot (-1: before any command). */
  readonly afterCmd: number;
  /** Every page covered by a VMA in the window, per live mm, in (mm, vpn) order. */
  readonly pages: readonly HostPage[];
}

export interface HostRun {
  /** One per command, in order. Host errnos outside the model's set become `internal`. */
  readonly outcomes: readonly Outcome[];
  /** The executor's result line for each command, verbatim. */
  readonly raw: readonly string[];
  /** After every command with `snapshotEvery`, else only after the last one. */
  readonly snapshots: readonly HostSnapshot[];
  /** The state after the last command (the last of `snapshots`). */
  readonly final: HostSnapshot;
}

export interface HostRunOptions {
  readonly snapshotEvery?: boolean;
  /**
   * THP mode (conform/thp.ts): every model page is `scale` host pages, and anonymous mappings
   * get MADV_HUGEPAGE. Unset: one host page per model page, MADV_NOHUGEPAGE everywhere.
   */
  readonly thp?: { readonly scale: number };
  /** Kill the executor after this long (default 60 s). */
  readonly timeoutMs?: number;
}

/** The executor failed (crashed, timed out, or broke the protocol): not a Linux outcome. */
export class HostExecutorError extends Error {
  override name = "HostExecutorError";
}

/** The package root: the nearest ancestor holding scripts/build-executor.mjs. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "scripts", "build-executor.mjs"))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new HostExecutorError("cannot find the rmapcheck package root");
    dir = up;
  }
}

export const executorPath = (): string => join(packageRoot(), "conform", "build", "executor");

/**
 * Builds the executor with scripts/build-executor.mjs if it is missing (or, with
 * `ifStale`, older than executor.c). Never throws: hostSupport() tells whether it worked.
 */
export function buildExecutor(opts: { ifStale?: boolean } = {}): void {
  const root = packageRoot();
  const bin = executorPath();
  const src = join(root, "conform", "executor.c");
  const fresh =
    existsSync(bin) && !(opts.ifStale && existsSync(src) && statSync(src).mtimeMs > statSync(bin).mtimeMs);
  if (fresh) return;
  const r = spawnSync(process.execPath, [join(root, "scripts", "build-executor.mjs")], { encoding: "utf8" });
  // The script prints "build-executor: skipped (no C compiler (cc)); …" when it cannot build.
  buildSkipped = /skipped \((.*)\);/.exec(r.stdout ?? "")?.[1];
  supportCache = undefined;
}

/** Why the last build attempt was skipped (no compiler, not Linux, …), if it was. */
let buildSkipped: string | undefined;

let supportCache: HostSupport | undefined;

/** Can runOnHost work here: Linux, executor built, pagemap gives real PFNs? (Cached.) */
export function hostSupport(): HostSupport {
  if (supportCache) return supportCache;
  supportCache = checkSupport();
  return supportCache;
}

function checkSupport(): HostSupport {
  if (process.platform !== "linux") return { ok: false, why: `host is ${process.platform}, not Linux` };
  let bin: string;
  try {
    bin = executorPath();
  } catch (e) {
    return { ok: false, why: String(e) };
  }
  if (!existsSync(bin)) {
    return { ok: false, why: buildSkipped ? `it could not be built: ${buildSkipped}` : `executor not built (${bin}); run node scripts/build-executor.mjs` };
  }
  const r = spawnSync(bin, ["--selfcheck"], { encoding: "utf8", timeout: 10_000 });
  if (r.error) return { ok: false, why: `executor selfcheck did not run: ${r.error.message}` };
  const line = (r.stdout ?? "").trim();
  if (r.status !== 0 || line !== "selfcheck ok") {
    return { ok: false, why: line || `executor selfcheck exited with ${r.status ?? r.signal}` };
  }
  return { ok: true };
}

const int = (what: string, n: number | undefined, dflt?: number): string => {
  const v = n ?? dflt;
  if (v === undefined || !Number.isSafeInteger(v)) throw new HostExecutorError(`${what} is not an integer: ${String(n)}`);
  return String(v);
};

/** A command as one line of the executor's protocol. */
export function cmdToLine(c: Cmd): string {
  switch (c.op) {
    case "mmap":
      return [
        "mmap",
        int("mm", c.mm),
        int("addr", c.addr),
        int("len", c.len),
        c.kind,
        c.prot,
        c.fixed ? "1" : "0",
        int("file", c.file, 0),
        int("pgoff", c.pgoff, 0),
      ].join(" ");
    case "munmap":
    case "mlock":
    case "munlock":
      return `${c.op} ${int("mm", c.mm)} ${int("addr", c.addr)} ${int("len", c.len)}`;
    case "mprotect":
      return `mprotect ${int("mm", c.mm)} ${int("addr", c.addr)} ${int("len", c.len)} ${c.prot}`;
    case "madvise":
      return `madvise ${int("mm", c.mm)} ${int("addr", c.addr)} ${int("len", c.len)} ${c.advice}`;
    case "mremap":
      return [
        "mremap",
        int("mm", c.mm),
        int("addr", c.addr),
        int("len", c.len),
        int("newLen", c.newLen),
        c.maymove ? "1" : "0",
        c.fixed ? "1" : "0",
        int("newAddr", c.newAddr, 0),
      ].join(" ");
    case "fork":
      return `fork ${int("mm", c.mm)} ${int("child", c.child)}`;
    case "exit":
      return `exit ${int("mm", c.mm)}`;
    case "read":
    case "swapout":
    case "migrate":
      return `${c.op} ${int("mm", c.mm)} ${int("addr", c.addr)}`;
    case "write":
      return `write ${int("mm", c.mm)} ${int("addr", c.addr)} ${int("token", c.token)}`;
    case "truncate":
      return `truncate ${int("file", c.file)} ${int("size", c.size)}`;
    case "reclaim":
      return `reclaim ${int("pages", c.pages)}`;
    case "exec":
      throw new HostExecutorError("the executor does not run exec (docs/conform.md)");
  }
}

/** One result line of the executor as an Outcome; throws on anything outside the protocol. */
export function parseOutcome(line: string): Outcome {
  const m = /^(\S+)(?: (.*))?$/.exec(line);
  const word = m?.[1];
  const rest = m?.[2] ?? "";
  const num = (): number => {
    if (!/^-?\d+$/.test(rest)) throw new HostExecutorError(`bad number in executor line: ${JSON.stringify(line)}`);
    return Number(rest);
  };
  switch (word) {
    case "ok":
      if (rest === "") return { kind: "ok" };
      break;
    case "addr":
      return { kind: "addr", addr: num() };
    case "value":
      return { kind: "value", value: num() };
    case "signal":
      if (rest === "SIGSEGV" || rest === "SIGBUS") return { kind: "signal", signal: rest };
      break;
    case "errno":
      if (rest === "EINVAL" || rest === "ENOMEM" || rest === "EFAULT") return { kind: "errno", errno: rest };
      // An errno the model cannot return: keep it visible (it differs from any model outcome).
      if (/^E[A-Z0-9]+$/.test(rest)) return { kind: "internal", what: `host errno ${rest}` };
      break;
    case "skip":
      return { kind: "skip", why: rest };
    case "internal":
      return { kind: "internal", what: rest };
  }
  throw new HostExecutorError(`unexpected executor line: ${JSON.stringify(line)}`);
}

function parsePage(line: string): HostPage {
  const f = line.split(" ");
  if (f.length !== 13 || f[0] !== "page" || !f.slice(1).every((x) => /^-?\d+$/.test(x))) {
    throw new HostExecutorError(`bad snapshot line: ${JSON.stringify(line)}`);
  }
  const n = f.slice(1).map(Number) as [number, number, number, number, number, number, number, number, number, number, number, number];
  return {
    mm: n[0],
    vpn: n[1],
    present: n[2] === 1,
    pfn: n[3],
    swapped: n[4] === 1,
    mapcount: n[5],
    zeroPage: n[6] === 1,
    anon: n[7] === 1,
    largeFolio: n[8] === 1,
    thp: n[9] === 1,
    head: n[10],
    pmd: n[11] === 1,
  };
}

/** Runs `cmds` on the host in a fresh set of processes (mm1 exists at the start). */
export function runOnHost(cmds: readonly Cmd[], world: World, opts: HostRunOptions = {}): HostRun {
  const support = hostSupport();
  if (!support.ok) throw new HostExecutorError(`host executor unavailable: ${support.why}`);
  const thp = opts.thp ? ` ${int("scale", opts.thp.scale)} 1` : "";
  const lines = [
    `world ${int("vpnLimit", world.vpnLimit)} ${int("mmapBase", world.mmapBase)} ${int("fileCount", world.fileCount)} ${int("fileInitialPages", world.fileInitialPages)}${thp}`,
  ];
  cmds.forEach((c, i) => {
    lines.push(cmdToLine(c));
    if (opts.snapshotEvery || i === cmds.length - 1) lines.push("snapshot");
  });
  if (cmds.length === 0) lines.push("snapshot");
  const r = spawnSync(executorPath(), [], {
    input: `${lines.join("\n")}\n`,
    encoding: "utf8",
    maxBuffer: 1 << 28,
    timeout: opts.timeoutMs ?? 60_000,
  });
  const out = (r.stdout ?? "").split("\n").filter((l) => l !== "");
  const stderr = (r.stderr ?? "").trim();
  const context = () => `${stderr ? `; stderr: ${stderr}` : ""}; last output: ${JSON.stringify(out.slice(-3))}`;
  if (r.error) throw new HostExecutorError(`executor did not run to completion: ${r.error.message}${context()}`);
  const fatal = out.find((l) => l.startsWith("fatal "));
  if (fatal) throw new HostExecutorError(`executor: ${fatal.slice(6)}${context()}`);
  if (r.status !== 0) throw new HostExecutorError(`executor exited with ${r.status ?? r.signal}${context()}`);
  if (out[0]?.startsWith("ready ") !== true) throw new HostExecutorError(`executor did not start${context()}`);

  const outcomes: Outcome[] = [];
  const raw: string[] = [];
  const snapshots: HostSnapshot[] = [];
  for (let i = 1; i < out.length; i++) {
    const line = out[i] as string;
    if (line !== "snapshot-begin") {
      raw.push(line);
      outcomes.push(parseOutcome(line));
      continue;
    }
    const pages: HostPage[] = [];
    for (i++; i < out.length && out[i] !== "snapshot-end"; i++) pages.push(parsePage(out[i] as string));
    if (i >= out.length) throw new HostExecutorError(`unterminated snapshot${context()}`);
    snapshots.push({ afterCmd: outcomes.length - 1, pages });
  }
  if (outcomes.length !== cmds.length) {
    throw new HostExecutorError(`executor answered ${outcomes.length} of ${cmds.length} commands${context()}`);
  }
  const final = snapshots[snapshots.length - 1];
  if (!final || final.afterCmd !== cmds.length - 1) throw new HostExecutorError(`final snapshot missing${context()}`);
  return { outcomes, raw, snapshots, final };
}

/**
 * Which (mm, vpn) pairs share one physical frame: the partition of the present pages by
 * frame, leaving out the zero page (sharing it means nothing). Canonical order: pairs
 * sorted by (mm, vpn), classes sorted by their first pair, singletons included.
 */
export function frameSharing(s: HostSnapshot): { mm: MmId; vpn: Vpn }[][] {
  const byPfn = new Map<number, { mm: MmId; vpn: Vpn }[]>();
  for (const p of s.pages) {
    if (!p.present || p.zeroPage) continue;
    const cls = byPfn.get(p.pfn) ?? [];
    cls.push({ mm: p.mm, vpn: p.vpn });
    byPfn.set(p.pfn, cls);
  }
  const cmp = (a: { mm: number; vpn: number }, b: { mm: number; vpn: number }) => a.mm - b.mm || a.vpn - b.vpn;
  const classes = [...byPfn.values()].map((c) => c.sort(cmp));
  return classes.sort((a, b) => cmp(a[0] as { mm: number; vpn: number }, b[0] as { mm: number; vpn: number }));
}

/** The page of `mm` at `vpn` in a snapshot, if that page is covered by a VMA. */
export const pageAt = (s: HostSnapshot, mm: MmId, vpn: Vpn): HostPage | undefined =>
  s.pages.find((p) => p.mm === mm && p.vpn === vpn);
