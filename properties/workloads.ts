/*
 * Named, deterministic workloads for `rmapcheck compare`, each modelled on a scenario from the
 * seeds or the kernel's history (primer §7), each with a scale parameter. A workload is a
 * stream of commands (plain data, like everything else) and the world it needs.
 */
import type { Cmd } from "../model/commands.js";
import { type World, defaultWorld } from "../model/world.js";

export interface Workload {
  readonly name: string;
  /** What it models and what it measures. */
  readonly story: string;
  /** What the scale parameter counts. */
  readonly unit: string;
  readonly scales: readonly number[];
  world(scale: number): World;
  commands(scale: number): Iterable<Cmd>;
}

/** A world big enough that nothing is reclaimed unless the workload asks for it. */
const roomy = (pages: number, filePages = 512, frames = pages * 4 + 4096): World => ({
  vpnLimit: pages,
  mmapBase: 1,
  fileCount: 2,
  fileInitialPages: filePages,
  fileMaxPages: filePages,
  frameCount: frames,
  mmLiveMax: Number.MAX_SAFE_INTEGER,
});

const anon = (mm: number, addr: number, len: number): Cmd => ({ op: "mmap", mm, addr, len, kind: "anon", prot: "rw", fixed: true });

function* writeAll(mm: number, addr: number, len: number, token: number): Generator<Cmd> {
  for (let i = 0; i < len; i++) yield { op: "write", mm, addr: addr + i, token: token + i };
}

function* readAll(mm: number, addr: number, len: number): Generator<Cmd> {
  for (let i = 0; i < len; i++) yield { op: "read", mm, addr: addr + i };
}

/** A kernel-compile shell: a parent with mapped memory forking short-lived children. */
const forkExitChurn: Workload = {
  name: "fork-exit-churn",
  story: "a shell forking short-lived children (kernel-compile style); the parent maps `scale` pages in 4 vmas; 64 children each fork, touch two pages and exit — fork cost",
  unit: "pages mapped by the parent",
  scales: [64, 256, 1024, 4096],
  world: (s) => roomy(s + 64, Math.max(512, s)),
  *commands(s) {
    const q = Math.max(1, Math.floor(s / 4));
    yield anon(1, 1, q);
    yield* writeAll(1, 1, q, 1);
    yield anon(1, 2 + q, q);
    yield* writeAll(1, 2 + q, q, 100000);
    yield { op: "mmap", mm: 1, addr: 3 + 2 * q, len: q, kind: "private-file", prot: "r", fixed: true, file: 0, pgoff: 0 };
    yield* readAll(1, 3 + 2 * q, q);
    yield { op: "mmap", mm: 1, addr: 4 + 3 * q, len: q, kind: "shared-file", prot: "r", fixed: true, file: 1, pgoff: 0 };
    yield* readAll(1, 4 + 3 * q, q);
    for (let c = 0; c < 64; c++) {
      const child = 2 + c;
      yield { op: "fork", mm: 1, child };
      yield { op: "write", mm: child, addr: 1 + (c % q), token: 500000 + c };
      yield { op: "read", mm: child, addr: 3 + 2 * q + (c % q) };
      yield { op: "exit", mm: child };
    }
  },
};

/** Many processes mapping one big shared file or shm segment (seeds 002, 004). */
const sharedFileManyProcs: Workload = {
  name: "shared-file-many-procs",
  story: "`scale` processes each map the same 512-page shared file and touch every page — rmap memory per mapped PTE (the 32-bit lowmem question)",
  unit: "processes",
  scales: [16, 64, 256, 1024],
  world: (s) => roomy(1024, 512, 2 * s + 4096),
  *commands(s) {
    yield { op: "mmap", mm: 1, addr: 1, len: 512, kind: "shared-file", prot: "rw", fixed: true, file: 0, pgoff: 0 };
    yield* readAll(1, 1, 512);
    for (let c = 2; c <= s; c++) {
      yield { op: "fork", mm: 1, child: c };
      yield* readAll(c, 1, 512);
    }
  },
};

/** Ingo Molnar's 2004 test: many small windows onto one big file. */
const manyWindowsOneFile: Workload = {
  name: "many-windows-one-file",
  story: "one process maps `scale` one-page windows onto one file (not mergeable), touches each, then 128 of the pages are reclaimed — walk cost with i_mmap as a list vs a tree",
  unit: "vmas on the file",
  scales: [64, 256, 1024, 4096],
  world: (s) => roomy(2 * s + 16, s),
  *commands(s) {
    for (let i = 0; i < s; i++) {
      // Windows two pages apart so that neighbours never merge; pgoff i.
      yield { op: "mmap", mm: 1, addr: 1 + 2 * i, len: 1, kind: "shared-file", prot: "r", fixed: true, file: 0, pgoff: i };
      yield { op: "read", mm: 1, addr: 1 + 2 * i };
    }
    const step = Math.max(1, Math.floor(s / 128));
    for (let i = 0; i < s; i += step) yield { op: "swapout", mm: 1, addr: 1 + 2 * i };
  },
};

/** Hugh's anonmm Achilles heel: mremap of COW-shared anonymous memory. */
const mremapSharedAnon: Workload = {
  name: "mremap-shared-anon",
  story: "a parent writes `scale` anonymous pages and forks 4 children; each child mremaps the whole range elsewhere; then every page is swapped out through the parent and read back — anonmm's forced copies",
  unit: "pages",
  scales: [16, 64, 256, 1024],
  world: (s) => roomy(8 * s + 64),
  *commands(s) {
    yield anon(1, 1, s);
    yield* writeAll(1, 1, s, 1);
    for (let c = 2; c <= 5; c++) {
      yield { op: "fork", mm: 1, child: c };
      yield { op: "mremap", mm: c, addr: 1, len: s, newLen: s, maymove: true, fixed: true, newAddr: 1 + (c - 1) * (s + 1) };
    }
    for (let i = 0; i < s; i++) yield { op: "swapout", mm: 1, addr: 1 + i };
    for (let c = 2; c <= 5; c++) yield* readAll(c, 1 + (c - 1) * (s + 1), s);
  },
};

/** AIM7: a long-lived parent with many children each COWing its pages. */
const forkingServer: Workload = {
  name: "forking-server",
  story: "a server with 32 written anonymous pages forks `scale` children, each of which writes (COWs) all 32; then 64 of the children's pages are reclaimed — walk cost under anon_vma (family list) vs anon_vma_chain",
  unit: "children",
  scales: [16, 64, 256, 1024],
  world: (s) => roomy(128, 512, 40 * s + 4096),
  *commands(s) {
    yield anon(1, 1, 32);
    yield* writeAll(1, 1, 32, 1);
    for (let c = 2; c <= s + 1; c++) {
      yield { op: "fork", mm: 1, child: c };
      yield* writeAll(c, 1, 32, c * 100);
    }
    const step = Math.max(1, Math.floor((s * 32) / 64));
    for (let n = 0; n < s * 32; n += step) yield { op: "swapout", mm: 2 + Math.floor(n / 32), addr: 1 + (n % 32) };
  },
};

/** Daemons that double-fork: every generation forks and exits. */
const doubleForkDaemon: Workload = {
  name: "double-fork-daemon",
  story: "`scale` generations: each process writes a page, forks its successor and exits — anon_vma chain growth and anon_vma reuse (3.19)",
  unit: "generations",
  scales: [16, 64, 256, 1024],
  world: () => roomy(64),
  *commands(s) {
    yield anon(1, 1, 8);
    yield* writeAll(1, 1, 8, 1);
    for (let g = 1; g <= s; g++) {
      yield { op: "write", mm: g, addr: 1 + (g % 8), token: 1000 + g };
      yield { op: "fork", mm: g, child: g + 1 };
      yield { op: "exit", mm: g };
    }
  },
};

/**
 * Large folios (docs/folios.md): the mapcount schemes' cost. Order-0 designs run the same
 * commands with 4 KiB pages.
 */
const thpForkCow: Workload = {
  name: "thp-fork-cow",
  story:
    "a process faults `scale` 4-page anonymous folios (one PMD each), forks; the child writes one page of each (PMD split, COW), the parent unmaps one page of each (split, deferred split), the shrinker runs, the child exits — mapcount cost of the two folio schemes",
  unit: "folios",
  scales: [16, 64, 256],
  world: (s) => ({ ...roomy(4 * s + 8), folioOrder: 2 }),
  *commands(s) {
    yield anon(1, 4, 4 * s);
    for (let f = 0; f < s; f++) yield { op: "write", mm: 1, addr: 4 + 4 * f, token: 1 + f };
    yield { op: "fork", mm: 1, child: 2 };
    for (let f = 0; f < s; f++) yield { op: "write", mm: 2, addr: 5 + 4 * f, token: 100000 + f };
    for (let f = 0; f < s; f++) yield { op: "munmap", mm: 1, addr: 7 + 4 * f, len: 1 };
    yield { op: "reclaim", pages: 0 };
    yield { op: "exit", mm: 2 };
  },
};

/**
 * The property generator's sequences. Each run boots afresh and is resolved against the
 * model as it goes, so properties/measure.ts runs them itself; `commands` is empty.
 */
const random: Workload = {
  name: "random",
  story: "the property generator's sequences (seed 1): `scale` runs of the small world",
  unit: "runs",
  scales: [100, 400],
  world: () => defaultWorld,
  *commands() {},
};

export const workloads: readonly Workload[] = [
  forkExitChurn,
  sharedFileManyProcs,
  manyWindowsOneFile,
  mremapSharedAnon,
  forkingServer,
  doubleForkDaemon,
  thpForkCow,
  random,
];

export const findWorkload = (name: string) => workloads.find((w) => w.name === name);
