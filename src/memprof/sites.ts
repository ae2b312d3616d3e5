// Allocation sites from V8's sampling heap profiler (HeapProfiler.startSampling over node:inspector):
// about one sample every `interval` bytes allocated, each with its JavaScript stack. Counting
// objects the collector has since freed as well shows transient garbage, not only what survived.
import { Session } from 'node:inspector/promises';

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

export class AllocationSampler {
  #session = new Session();

  private constructor() {}

  static async start(samplingInterval: number): Promise<AllocationSampler> {
    const sampler = new AllocationSampler();
    sampler.#session.connect();
    await sampler.#session.post('HeapProfiler.enable');
    await sampler.#session.post('HeapProfiler.startSampling', {
      samplingInterval,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    return sampler;
  }

  /** Stops sampling and returns the `top` sites by bytes, largest first. */
  async stop(top: number): Promise<AllocationSite[]> {
    try {
      const { profile } = (await this.#session.post('HeapProfiler.stopSampling')) as { profile: { head: SamplingNode } };
      return topSites(profile.head, top);
    } finally {
      this.#session.disconnect();
    }
  }
}

function topSites(root: SamplingNode, top: number): AllocationSite[] {
  // The same function appears under many call paths: sum its self sizes over all of them.
  const bySite = new Map<string, AllocationSite>();
  const pending = [root];
  for (let node = pending.pop(); node; node = pending.pop()) {
    pending.push(...node.children);
    if (node.selfSize === 0) continue;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
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
