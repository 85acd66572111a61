/*
 * Campaigns: a master seed split into chunks of runs, each chunk with its own seed derived
 * from the master, so a campaign can be spread over worker threads (--workers) and machines
 * (--shard i/n) and any chunk replays alone. Chunk j of master seed M has seed chunkSeed(M, j);
 * shard i of n takes the chunks j ≡ i (mod n); the workers of one process share its chunks
 * round-robin. With one worker and one shard, chunks run in order, so the same flags give the
 * same run.
 */
import { Worker } from "node:worker_threads";
import { findDesign } from "../impl/designs/index.js";
import { type CoverageCounts, addCoverage, emptyCoverage } from "../properties/coverage.js";
import { type CampaignStats, type Counterexample, addStats, checkDesign, emptyStats } from "../properties/property.js";

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
  readonly checkEvery: number;
  readonly shrinkBudget?: number;
}

export interface ChunkJob {
  readonly design: string;
  readonly mutant?: string;
  readonly chunk: number;
  readonly seed: number;
  readonly runs: number;
  readonly maxCommands: number;
  readonly swarm: boolean;
  readonly failAlloc?: number;
  readonly checkEvery: number;
  readonly shrinkBudget?: number;
  readonly deadline: number;
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
export function runChunk(job: ChunkJob, onRun?: (runs: number, commands: number) => void): ChunkResult {
  const design = findDesign(job.design);
  if (!design) throw new Error(`unknown design ${job.design}`);
  const r = checkDesign({
    design,
    mutant: job.mutant,
    seed: job.seed,
    runs: job.runs,
    maxCommands: job.maxCommands,
    swarm: job.swarm,
    failAlloc: job.failAlloc,
    checkEvery: job.checkEvery,
    shrinkBudget: job.shrinkBudget,
    onRun,
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
    chunk,
    seed: chunkSeed(o.seed, chunk),
    runs,
    maxCommands: o.maxCommands,
    swarm: o.swarm,
    failAlloc: o.failAlloc,
    checkEvery: o.checkEvery,
    shrinkBudget: o.shrinkBudget,
    deadline,
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
  const done = () => total.failure !== undefined || total.stopped || Date.now() > deadline;

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

  const chunks = shardChunks(o);
  const live = new Map<number, { runs: number; commands: number }>();
  await Promise.all(
    Array.from({ length: o.workers }, (_, w) => {
      const worker = new Worker(new URL("./worker.js", import.meta.url));
      return new Promise<void>((resolve, reject) => {
        const next = () => {
          const c = done() ? undefined : chunks.next();
          if (!c || c.done) {
            void worker.terminate().then(() => resolve());
            return;
          }
          worker.postMessage(job(c.value.chunk, c.value.runs));
        };
        worker.on("message", (msg: { type: "progress"; runs: number; commands: number } | { type: "done"; result: ChunkResult }) => {
          if (msg.type === "progress") {
            live.set(w, msg);
            let runs = total.runs;
            let commands = total.commands;
            for (const p of live.values()) {
              runs += p.runs;
              commands += p.commands;
            }
            progress?.({ runs, commands, coverage: total.coverage });
            return;
          }
          live.delete(w);
          absorb(msg.result);
          next();
        });
        worker.on("error", reject);
        next();
      });
    }),
  );
  return total;
}
