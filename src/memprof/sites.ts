// Allocation sites from V8's sampling heap profiler (HeapProfiler.startSampling over node:inspector):
// about one sample every `interval` bytes allocated, each with its JavaScript stack. Counting
// objects the collector has since freed as well shows transient garbage, not only what survived.
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** A function that allocated memory during the profile. */
export interface AllocationSite {
  /** '(anonymous)' for unnamed functions; V8's own names such as '(V8 API)' for engine allocations. */
  functionName: string;
  /** The script: a file:// URL or path, 'node:…' for Node's internals, '' for the engine. */
  url: string;
  /** 1-based line and column where the function is defined (0 when unknown). */
  line: number;
  column: number;
  /** Estimated bytes allocated there (sampled: a multiple of the sampling interval on average). */
  bytes: number;
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

// V8 has one sampling heap profiler per isolate (per thread here): a second session starting it
// would share, and the first to stop would end, the other's recording.
let active = false;

export class AllocationSampler {
  #session = new Session();

  private constructor() {}

  static async start(where: string, samplingInterval: number): Promise<AllocationSampler> {
    if (active) {
      throw new Error(
        `${where}: another profile in this thread is already sampling allocations (V8 has one sampling heap profiler ` +
          `per thread); run sampled profiles one at a time`,
      );
    }
    active = true;
    const sampler = new AllocationSampler();
    try {
      sampler.#session.connect();
      await sampler.#session.post('HeapProfiler.enable');
      await sampler.#session.post('HeapProfiler.startSampling', {
        samplingInterval,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    } catch (error) {
      sampler.#release();
      throw error;
    }
    return sampler;
  }

  /** Stops sampling and returns the `top` sites by bytes, largest first. */
  async stop(top: number): Promise<AllocationSite[]> {
    try {
      const { profile } = (await this.#session.post('HeapProfiler.stopSampling')) as {
        profile: { head: SamplingNode };
      };
      return topSites(profile.head, top);
    } finally {
      this.#release();
    }
  }

  #release(): void {
    this.#session.disconnect();
    active = false;
  }
}

// The profiler's own bookkeeping while sampling runs is not the caller's allocation: frames from
// this folder are left out, and so is everything called from the modules that read the figures
// (fs reads of /proc, process.memoryUsage objects). The caller's fn runs under profile.js, so
// that module's callees stay.
const scriptNames = (file: string) => [path.join(__dirname, file), pathToFileURL(path.join(__dirname, file)).href];
const ownFolders = [__dirname + path.sep, pathToFileURL(__dirname).href + '/'];
const readerScripts = new Set([...scriptNames('process-memory.js'), ...scriptNames('native.js')]);

function topSites(root: SamplingNode, top: number): AllocationSite[] {
  // The same function appears under many call paths: sum its self sizes over all of them.
  const bySite = new Map<string, AllocationSite>();
  const pending = [root];
  for (let node = pending.pop(); node; node = pending.pop()) {
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    if (readerScripts.has(url)) continue;
    pending.push(...node.children);
    if (node.selfSize === 0 || ownFolders.some((folder) => url.startsWith(folder))) continue;
    const key = `${functionName}\0${url}\0${lineNumber}\0${columnNumber}`;
    const site = bySite.get(key);
    if (site) {
      site.bytes += node.selfSize;
    } else {
      bySite.set(key, {
        functionName: functionName || '(anonymous)',
        url,
        // The protocol counts from 0 (and uses -1 for unknown); editors and stack traces count from 1.
        line: lineNumber + 1,
        column: columnNumber + 1,
        bytes: node.selfSize,
      });
    }
  }
  return [...bySite.values()].sort((a, b) => b.bytes - a.bytes).slice(0, top);
}
