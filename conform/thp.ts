/*
 * `rmapcheck conform` for the large-folio designs (anon-vma-chain+folio-6.14 / -6.15):
 * transparent huge pages compared with the host (docs/conform.md "THP", docs/folios.md).
 *
 * The folio designs run in the 32-page world with 4-page folios (order 2 stands in for PMD
 * order). The host's PMD is 2 MiB = 512 pages. Rather than a second, 512-page world that the
 * generator was never tuned for, conform *scales the host*: one model page is `scale` =
 * 512 / 2^order host pages (128 at order 2), so a model folio is exactly one host THP and
 * every model range boundary is a host boundary at a multiple of 512 KiB. A read or write of
 * model page p touches the first host page of its unit, and the snapshot reports that page.
 * What the kernel decides at PMD granularity (is the aligned range inside the vma, is it
 * split by mprotect/munmap/mremap/madvise, is it copied at fork, is a shared PMD split at
 * COW) is decided on the same boundaries on both sides; what it decides per 4 KiB page
 * (which page a COW copies) is compared on the unit's first page, the one the command
 * touched. The comparison is honest about that: the other 127 host pages of a unit are
 * never looked at.
 *
 * Compared per (mm, page) that maps an anonymous page on both sides, after every command,
 * on top of the order-0 comparison (frames shared, mapcounts):
 *   large   the page is in a large folio: the simulated kernel's folio layer knows its page,
 *           the host's kpageflags has KPF_THP;
 *   pmd     the page is mapped by a PMD: the folio layer's PMD table, the host's
 *           PAGEMAP_SCAN PAGE_IS_HUGE (Linux 6.7+);
 *   folio   which pages share one folio: the layer's folio against the host's head pfn.
 *
 * Where the host cannot be compared, thpSupport() says why in one line: THP mode `never`, a
 * PMD that is not a multiple of the model's folio, no kpageflags or PAGEMAP_SCAN, or a
 * write fault that gets no THP. Asynchronous host activity that would change the answer —
 * khugepaged collapsing a range, a THP allocation falling back to small pages, a folio split
 * by the deferred-split shrinker — is seen in /proc/vmstat's counters around each host run;
 * such a run is repeated, and conform gives up with one line if it never runs undisturbed.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { executorPath, hostSupport } from "./host.js";

export interface ThpHost {
  readonly ok: true;
  /** Host pages per model page. */
  readonly scale: number;
  /** /sys/kernel/mm/transparent_hugepage/enabled: always or madvise. */
  readonly mode: string;
  /** Host pages per PMD. */
  readonly pmdPages: number;
}

export type ThpSupport = ThpHost | { readonly ok: false; readonly why: string };

/** The host's THP settings; RMAPCHECK_THP_SYSFS points elsewhere (tests of a host without THP). */
const sysfsDir = () => process.env.RMAPCHECK_THP_SYSFS ?? "/sys/kernel/mm/transparent_hugepage";

const readOr = (path: string): string | undefined => {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
};

/**
 * Can the host compare folios of 2^order model pages, and the mTHP orders below it (a
 * model order o is a host folio of 2^o × scale pages: its size must be enabled in
 * hugepages-<size>kB/enabled)? Not cached: the mode may change.
 */
export function thpSupport(order: number, mthpOrders: readonly number[] = []): ThpSupport {
  const base = hostSupport();
  if (!base.ok) return base;
  const sysfs = sysfsDir();
  const enabled = readOr(`${sysfs}/enabled`);
  if (enabled === undefined) return { ok: false, why: `the host kernel has no transparent huge pages (${sysfs}/enabled absent)` };
  const mode = /\[(\w+)\]/.exec(enabled)?.[1] ?? enabled;
  if (mode === "never") return { ok: false, why: `the host's THP mode is "never" (${sysfs}/enabled): no large folio to compare` };
  const size = Number(readOr(`${sysfs}/hpage_pmd_size`));
  const pmdPages = size / 4096;
  const nr = 1 << order;
  if (!Number.isInteger(pmdPages) || pmdPages < nr || pmdPages % nr !== 0) {
    return { ok: false, why: `the host's PMD (${size} bytes) is not a multiple of ${nr} pages, the model's folio` };
  }
  const scale = pmdPages / nr;
  for (const o of mthpOrders) {
    const kB = 4 * scale * (1 << o);
    const path = `${sysfs}/hugepages-${kB}kB/enabled`;
    const text = readOr(path);
    const m = text === undefined ? "absent" : (/\[(\w+)\]/.exec(text)?.[1] ?? text);
    const effective = m === "inherit" ? mode : m;
    if (effective !== "always" && effective !== "madvise") {
      return { ok: false, why: `the host's ${kB}kB mTHP size is "${m}" (${path}): the model's order-${o} folios (${1 << o} pages = ${kB} KiB on the host) cannot be compared` };
    }
  }
  const r = spawnSync(executorPath(), ["--selfcheck-thp"], { encoding: "utf8", timeout: 10_000 });
  const line = (r.stdout ?? "").trim();
  if (r.error || r.status !== 0 || line !== "selfcheck-thp ok") {
    return { ok: false, why: line.replace(/^selfcheck-thp fail: /, "") || `executor --selfcheck-thp exited with ${r.status ?? r.signal}` };
  }
  return { ok: true, scale, mode, pmdPages };
}

/**
 * /proc/vmstat counters of host activity that would make a THP comparison depend on timing
 * or luck rather than on the commands: khugepaged collapses, THP allocations that fell back to
 * small pages, folios split (by the deferred split shrinker or anything else).
 */
export const disturbingCounters = ["thp_collapse_alloc", "thp_fault_fallback", "thp_split_page", "thp_underused_split_page"] as const;

export type ThpCounters = Readonly<Record<string, number>>;

export function thpCounters(): ThpCounters {
  const out: Record<string, number> = {};
  const text = readOr("/proc/vmstat") ?? "";
  for (const line of text.split("\n")) {
    const [k, v] = line.split(" ");
    if (k && (disturbingCounters as readonly string[]).includes(k)) out[k] = Number(v);
  }
  return out;
}

/** The counters that moved between two readings, as "thp_collapse_alloc +1"; undefined if none. */
export function disturbance(before: ThpCounters, after: ThpCounters): string | undefined {
  const moved = disturbingCounters.filter((k) => (after[k] ?? 0) !== (before[k] ?? 0)).map((k) => `${k} +${(after[k] ?? 0) - (before[k] ?? 0)}`);
  return moved.length > 0 ? moved.join(", ") : undefined;
}

/** Attempts per host run before conform gives up on a disturbed host. */
export const thpAttempts = 3;

// --- the comparison ---------------------------------------------------------------------------

/** A mapped anonymous page's folio, as one side sees it. */
export interface FolioUse {
  /** 0: a small (order-0) folio; else an id shared by the pages of one large folio. */
  readonly folio: number;
  /** Mapped by a PMD. */
  readonly pmd: boolean;
}

export interface HostFolioUse extends FolioUse {
  readonly pfn: number;
}

const describe = (u: FolioUse) => (u.folio === 0 ? "a small page" : `in a large folio, mapped by ${u.pmd ? "a PMD" : "PTEs"}`);

/**
 * The first difference in large folios between the simulated kernel and the host, for the
 * keys both sides map with an anonymous page (the caller compared those already).
 */
export function compareFolios(
  sim: ReadonlyMap<string, FolioUse>,
  host: ReadonlyMap<string, HostFolioUse>,
): { what: string; sim: string; host: string } | undefined {
  for (const [k, s] of sim) {
    const h = host.get(k);
    if (!h) continue;
    if ((s.folio !== 0) !== (h.folio !== 0) || s.pmd !== h.pmd) {
      return {
        what: `${k} is ${describe(s)} in the simulated kernel, ${describe(h)} on the host`,
        sim: `${k} ${describe(s)}`,
        host: `${k} pfn ${h.pfn} ${describe(h)}${h.folio !== 0 ? ` (head pfn ${h.folio})` : ""}`,
      };
    }
  }
  // Which pages share a folio: the same partition on both sides.
  const group = (m: ReadonlyMap<string, FolioUse>) => {
    const byFolio = new Map<number, string[]>();
    for (const [k, u] of m) {
      if (u.folio === 0 || !sim.has(k) || !host.has(k)) continue;
      const c = byFolio.get(u.folio);
      if (c) c.push(k);
      else byFolio.set(u.folio, [k]);
    }
    const ofKey = new Map<string, string>();
    for (const c of byFolio.values()) for (const k of c) ofKey.set(k, c.join(", "));
    return ofKey;
  };
  const simGroups = group(sim);
  const hostGroups = group(host);
  for (const [k, g] of simGroups) {
    const h = hostGroups.get(k);
    if (h !== g) {
      return {
        what: `{${g}} are one large folio in the simulated kernel, but on the host ${k} shares its folio with {${h}}`,
        sim: `{${g}} one folio`,
        host: `{${h}} one folio`,
      };
    }
  }
  return undefined;
}
