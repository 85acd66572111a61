/* A campaign worker thread: runs the chunks the main thread sends, one at a time. */
import { parentPort } from "node:worker_threads";
import { type ChunkJob, runChunk } from "./campaign.js";
import { loadDesignModules } from "./design-module.js";

const port = parentPort;
if (!port) throw new Error("cli/worker.js must run as a worker thread");
port.on("message", async (job: ChunkJob) => {
  // A user's design lives in a module the main thread loaded; load it here too (cached).
  if (job.designModules?.length) await loadDesignModules(job.designModules);
  const result = runChunk(
    job,
    (runs, commands) => {
      if (runs % 10 === 0) port.postMessage({ type: "progress", runs, commands });
    },
    () => port.postMessage({ type: "failing" }),
  );
  port.postMessage({ type: "done", result });
});
