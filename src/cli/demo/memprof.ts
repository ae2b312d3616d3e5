// `npm run demo` section: what profileMemory sees for a big transient array, a leak, the addon's
// own allocations, and how much each describe() backend allocates along the way.
import { performance } from 'node:perf_hooks';
import { backend, requireNative } from '../../core/loader.js';
import { describe } from '../../moments/index.js';
import { nativeMemory } from '../../memprof/native.js';
import { profileMemory } from '../../memprof/profile.js';

const MIB = 1024 * 1024;
const mib = (bytes: number) => `${(bytes / MIB).toFixed(1).padStart(7)} MiB`;
const leaked: unknown[] = [];

export async function demoSection(): Promise<void> {
  console.log('\n## Memory profiling: profileMemory(fn, { gc, sampling })');
  const t0 = performance.now();
  const transient = await profileMemory(() => new Float64Array(26_214_400).fill(1).length);
  console.log(
    `  200 MiB Float64Array, filled and dropped: peak rss +${mib(transient.peak.rss - transient.baseline.rss)},` +
      ` arrayBuffers +${mib(transient.peak.arrayBuffers - transient.baseline.arrayBuffers)}; retained ` +
      `${mib(transient.retained!.rss)} rss`,
  );
  const leak = await profileMemory(() =>
    leaked.push(Array.from({ length: 200_000 }, (_, i) => ({ i, label: `item ${i}` }))),
  );
  console.log(`  200k objects pushed into a global array: retained heap ${mib(leak.retained!.heapUsed)}`);

  if (backend === 'native') {
    const native = await profileMemory(() => requireNative().trackedFloat64Array(10_485_760).fill(2).length);
    console.log(
      `  80 MiB result allocated by the addon: peak native +${mib(native.peak.native - native.baseline.native)},` +
        ` external +${mib(native.peak.external - native.baseline.external)}; nativeMemory() after GC: ` +
        `${nativeMemory()} bytes`,
    );
  }

  const data = Float64Array.from({ length: 2_000_000 }, (_, i) => Math.sin(i));
  for (const which of backend === 'native' ? (['js', 'native'] as const) : (['js'] as const)) {
    const profile = await profileMemory(() => describe(data, { backend: which }), {
      sampling: { interval: 4096, top: 1000 },
    });
    const allocated = profile.sites!.reduce((sum, site) => sum + site.bytes, 0);
    const top = profile.sites![0];
    const where = top ? `, most in ${top.functionName} (${top.url.split('/').pop()}:${top.line})` : '';
    console.log(`  describe() over 2e6 doubles, ${which.padEnd(6)}: ~${mib(allocated)} JS allocations sampled${where}`);
  }
  console.log(
    `  (${(performance.now() - t0).toFixed(0)} ms in all; \`npx hotpath mprof run -- node script.js\` records any ` +
      `command)`,
  );
}
