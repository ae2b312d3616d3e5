// `hotpath doctor`: which backend is live and why, for bug reports.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backend, nativeLoadError, nativePath, packageRoot, requireNative } from '../binding/loader.js';
import { openclReport, openclRows } from '../opencl/report.js';
import { parseCommandArgs, printTable } from './io.js';

export const doctorHelp = `Usage: hotpath doctor [--json]

Prints the live backend, why the native addon did or did not load, the Node and
N-API versions, the CPU count, and the OpenCL platforms and devices.
`;

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values: flags } = parseCommandArgs({
    args: argv,
    strict: true,
    options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (flags.help) {
    process.stdout.write(doctorHelp);
    return 0;
  }
  // Written by scripts/install.js when the source build failed at install time (removed when one succeeds).
  const buildLog = path.join(packageRoot, 'native-build.log');
  const report = {
    backend,
    nativeLoaded: nativeLoadError === null,
    nativeLoadError: nativeLoadError?.message ?? null,
    nativePath,
    nativeBuildLog: fs.existsSync(buildLog) ? buildLog : null,
    addonNapiVersion: backend === 'native' ? requireNative().napiVersion : null,
    node: process.version,
    napi: Number(process.versions.napi),
    platform: `${process.platform}-${process.arch}`,
    cpus: os.availableParallelism(),
    opencl: openclReport(),
    env: { HOTPATH_BACKEND: process.env.HOTPATH_BACKEND ?? null, HOTPATH_NATIVE_PATH: process.env.HOTPATH_NATIVE_PATH ?? null },
  };
  if (flags.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    printTable([
      ['backend', report.backend],
      ['native addon', report.nativeLoaded ? `loaded from ${report.nativePath}` : `not loaded: ${report.nativeLoadError}`],
      ...(report.nativeBuildLog ? [['failed native build log', report.nativeBuildLog] as [string, string]] : []),
      ['addon N-API version', String(report.addonNapiVersion ?? '-')],
      ['node', report.node],
      ['node N-API version', String(report.napi)],
      ['platform', report.platform],
      ['cpus', String(report.cpus)],
      ...openclRows(report.opencl),
    ]);
  }
  return 0;
}
