/*
 * Campaigns: a master seed split into chunks of runs, each chunk with its own seed derived
 * from the master, so a campaign can be spread over worker threads (--workers) and machines
 * (--shard i/n) and any chunk replays alone. Chunk j of master seed M has seed chunkSeed(M, j);
 * shard i of n takes the chunks j ≡ i (mod n); the lanes of one process (this thread and
 * --workers − 1 worker threads) take its chunks in order as they free up. Chunks are handed out
 * in order, so every chunk below a failing one runs to the end: the failure reported (the
 * lowest failing chunk) is the same with any number of workers.
 */
import { Worker } from "node:worker_threads";
import { type CoverageCounts, addCoverage, emptyCoverage } from "../properties/coverage.js";
import { type CampaignStats, type Counterexample, addStats, checkDesign, emptyStats } from "../properties/property.js";
import { lookupDesign } from "./design-module.js";

export const CHUNK_RUNS = 100;

/** A 32-bit mix of (master, chunk) (splitmix32-style), never negative. */
export function chunkSeed(master: number, chunk: number): number {
  let z = (master ^ Math.imul(chunk + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) & 0x7fffffff;
}

export interface CampaignOptions {
  readonly design: string;
  readonly mutant?: string;
  /** Kernel quirks (impl/kernel.ts): a catalogue entry's planted bug in mm/ (`DESIGN+QUIRK`). */
  readonly quirks?: readonly string[];
  readonly seed: number;
  /** Total runs of the whole campaign (all shards); undefined = until the time limit. */
  readonly runs?: number;
  readonly timeLimit?: number;
  readonly workers: number;
  readonly shard: { index: number; count: number };
  readonly maxCommands: number;
  readonly swarm: boolean;
  /** Allocation-failure injection probability (undefined: off). */
  readonly failAlloc?: number;
  /** Interleaving mode: probability that a MREMAP_FIXED move races an rmap walker (undefined: off). */
  readonly interleave?: number;
  readonly checkEvery: number;
  readonly shrinkBudget?: number;
  /** Design modules (absolute paths) a worker thread must load before it can find the design. */
  readonly designModules?: readonly string[];
}

export interface ChunkJob {
  readonly design: string;
  readonly mutant?: string;
  readonly quirks?: readonly string[];
  readonly chunk: number;
  readonly seed: number;
  readonly runs: number;
  readonly maxCommands: number;
  readonly swarm: boolean;
  readonly failAlloc?: number;
  readonly interleave?: number;
  readonly checkEvery: number;
  readonly shrinkBudget?: number;
  readonly deadline: number;
  readonly designModules?: readonly string[];
}

export interface ChunkResult {
  readonly chunk: number;
  readonly seed: number;
  readonly runs: number;
  readonly commands: number;
  readonly coverage: CoverageCounts;
  readonly stats: CampaignStats;
  readonly stopped: boolean;
  readonly counterexample?: Counterexample;
}

export interface CampaignResult {
  runs: number;
  commands: number;
  coverage: CoverageCounts;
  stats: CampaignStats;
  stopped: boolean;
  /** The failure of the lowest-numbered failing chunk. */
  failure?: { chunk: number; seed: number; counterexample: Counterexample };
  chunks: number;
}

/** Run one chunk in this thread. */
export function runChunk(job: ChunkJob, onRun?: (runs: number, commands: number) => void, onFailure?: () => void): ChunkResult {
  const design = lookupDesign(job.design);
  if (!design) throw new Error(`unknown design ${job.design}`);
  const r = checkDesign({
    design,
    mutant: job.mutant,
    quirks: job.quirks,
    seed: job.seed,
    runs: job.runs,
    maxCommands: job.maxCommands,
    swarm: job.swarm,
    failAlloc: job.failAlloc,
    interleave: job.interleave,
    checkEvery: job.checkEvery,
    shrinkBudget: job.shrinkBudget,
    onRun,
    onFailure,
    shouldStop: () => Date.now() > job.deadline,
  });
  return {
    chunk: job.chunk,
    seed: job.seed,
    runs: r.runs,
    commands: r.commands,
    coverage: r.coverage,
    stats: r.stats,
    stopped: r.stopped,
    counterexample: r.counterexample,
  };
}

/** The chunk indices this shard runs, in order (lazily: unbounded campaigns never end). */
function* shardChunks(o: CampaignOptions): Generator<{ chunk: number; runs: number }> {
  for (let j = o.shard.index; ; j += o.shard.count) {
    const start = j * CHUNK_RUNS;
    if (o.runs !== undefined && start >= o.runs) return;
    yield { chunk: j, runs: o.runs === undefined ? CHUNK_RUNS : Math.min(CHUNK_RUNS, o.runs - start) };
  }
}

export type ProgressFn = (p: { runs: number; commands: number; coverage: CoverageCounts }) => void;

export async function runCampaign(o: CampaignOptions, progress?: ProgressFn): Promise<CampaignResult> {
  const deadline = o.timeLimit ? Date.now() + o.timeLimit * 1000 : Number.POSITIVE_INFINITY;
  const total: CampaignResult = { runs: 0, commands: 0, coverage: emptyCoverage(), stats: emptyStats(), stopped: false, chunks: 0 };
  const job = (chunk: number, runs: number): ChunkJob => ({
    design: o.design,
    mutant: o.mutant,
    quirks: o.quirks,
    chunk,
    seed: chunkSeed(o.seed, chunk),
    runs,
    maxCommands: o.maxCommands,
    swarm: o.swarm,
    failAlloc: o.failAlloc,
    interleave: o.interleave,
    checkEvery: o.checkEvery,
    shrinkBudget: o.shrinkBudget,
    deadline,
    designModules: o.designModules,
  });
  const absorb = (r: ChunkResult) => {
    total.runs += r.runs;
    total.commands += r.commands;
    total.chunks++;
    addCoverage(total.coverage, r.coverage);
    addStats(total.stats, r.stats);
    if (r.stopped) total.stopped = true;
    if (r.counterexample && (!total.failure || r.chunk < total.failure.chunk)) {
      total.failure = { chunk: r.chunk, seed: r.seed, counterexample: r.counterexample };
    }
  };
  // A lane that finds a failure says so before it shrinks (seconds, for some bugs): chunks are
  // handed out in order, so no chunk handed out after that can hold a lower failure.
  let failing = false;
  const done = () => failing || total.failure !== undefined || total.stopped || Date.now() > deadline;

  if (o.workers <= 1) {
    for (const { chunk, runs } of shardChunks(o)) {
      const before = { runs: total.runs, commands: total.commands };
      absorb(
        runChunk(job(chunk, runs), (r, c) =>
          progress?.({ runs: before.runs + r, commands: before.commands + c, coverage: total.coverage }),
        ),
      );
      if (done()) break;
    }
    return total;
  }

  // N lanes: this thread and N − 1 worker threads. This thread is warm and has its modules
  // loaded, so it starts at once while the workers load theirs. Each worker is kept two chunks
  // ahead (one running, one queued), so it never waits for this thread to finish a chunk of
  // its own before it gets the next job.
  const chunks = shardChunks(o);
  const take = () => {
    const c = done() ? undefined : chunks.next();
    return !c || c.done ? undefined : c.value;
  };
  const live = new Map<number, { runs: number; commands: number }>();
  const report = () => {
    let runs = total.runs;
    let commands = total.commands;
    for (const p of live.values()) {
      runs += p.runs;
      commands += p.commands;
    }
    progress?.({ runs, commands, coverage: total.coverage });
  };
  const workerLane = (lane: number) => {
    const worker = new Worker(new URL("./worker.js", import.meta.url));
    return new Promise<void>((resolve, reject) => {
      let inFlight = 0;
      const feed = () => {
        for (let c = inFlight < 2 ? take() : undefined; c; c = inFlight < 2 ? take() : undefined) {
          worker.postMessage(job(c.chunk, c.runs));
          inFlight++;
        }
        if (inFlight === 0) void worker.terminate().then(() => resolve());
      };
      worker.on("message", (msg: { type: "progress"; runs: number; commands: number } | { type: "failing" } | { type: "done"; result: ChunkResult }) => {
        if (msg.type === "failing") {
          failing = true;
          return;
        }
        if (msg.type === "progress") {
          live.set(lane, msg);
          report();
          return;
        }
        live.delete(lane);
        inFlight--;
        absorb(msg.result);
        feed();
      });
      worker.on("error", reject);
      feed();
    });
  };
  const mainLane = async () => {
    for (let c = take(); c; c = take()) {
      absorb(
        runChunk(
          job(c.chunk, c.runs),
          (runs, commands) => {
            live.set(0, { runs, commands });
            if (runs % 10 === 0) report();
          },
          () => {
            failing = true;
          },
        ),
      );
      live.delete(0);
      // Let the workers' messages in between chunks (their next jobs are already queued).
      await new Promise((r) => setImmediate(r));
    }
  };
  await Promise.all([mainLane(), ...Array.from({ length: o.workers - 1 }, (_, w) => workerLane(w + 1))]);
  return total;
}
