// What `hotpath doctor` prints about OpenCL: availability, then every platform and its devices.
import { available, loadPath, platforms, unavailableReason, type LoadPath } from './runtime.js';

export interface OpenclReport {
  available: boolean;
  reason: string | null;
  /** Loader or vendor drivers opened directly, and the libraries. */
  loadPath: LoadPath;
  platforms: Array<{
    name: string;
    version: string;
    devices: Array<{
      name: string;
      type: string;
      computeUnits: number;
      globalMemoryMiB: number;
      maxWorkGroupSize: number;
      fp64: boolean;
      int64: boolean;
    }>;
  }>;
}

export function openclReport(): OpenclReport {
  if (!available()) return { available: false, reason: unavailableReason(), loadPath: loadPath(), platforms: [] };
  return {
    available: true,
    reason: null,
    loadPath: loadPath(),
    platforms: platforms().map((p) => ({
      name: p.name,
      version: p.version,
      devices: p.devices().map((d) => ({
        name: d.name,
        type: d.type,
        computeUnits: d.computeUnits,
        globalMemoryMiB: Math.round(d.globalMemory / 2 ** 20),
        maxWorkGroupSize: d.maxWorkGroupSize,
        fp64: d.fp64,
        int64: d.int64,
      })),
    })),
  };
}

/** Table rows for the human-readable doctor output. */
export function openclRows(report: OpenclReport): [string, string][] {
  if (!report.available) return [['opencl', `not available: ${report.reason}`]];
  const via = report.loadPath.via === 'loader' ? 'ICD loader' : 'vendor drivers opened directly (no ICD loader)';
  return [
    ['opencl', `${via}: ${report.loadPath.libraries.join(', ')}`],
    ...report.platforms.flatMap((p, i) => [
      [`opencl platform ${i}`, `${p.name} (${p.version})`] as [string, string],
      ...p.devices.map((d, j): [string, string] => [
        `  device ${j}`,
        `${d.name}: ${d.type}, ${d.computeUnits} compute units, ${d.globalMemoryMiB} MiB, ` +
          `fp64 ${d.fp64 ? 'yes' : 'no'}, int64 ${d.int64 ? 'yes' : 'no'}`,
      ]),
    ]),
  ];
}
