// `hotpath doctor`: which backend is live and why, for bug reports. It must run when nothing else does:
// the loader is imported inside a try, so an invalid HOTPATH_BACKEND or HOTPATH_BACKEND=native without a
// loadable addon is reported as the reason instead of ending the command.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { errorLine, parseCommandArgs, printTable } from './io.js';

/** The loader's view, or why the loader itself refused to load (then nothing native is usable). */
async function backendReport() {
  try {
    const { backend, nativeLoadError, nativePath, requireNative } = await import('../core/loader.js');
    const { openclReport, openclRows } = await import('../opencl/report.js');
    const opencl = openclReport();
    return {
      backend,
      nativeLoaded: nativeLoadError === null,
      nativeLoadError: nativeLoadError?.message ?? null,
      nativePath,
      addonNapiVersion: backend === 'native' ? requireNative().napiVersion : null,
      opencl,
      openclRows: openclRows(opencl),
    };
  } catch (error) {
    const reason = errorLine(error);
    return {
      backend: 'unavailable',
      nativeLoaded: false,
      nativeLoadError: reason,
      nativePath: null,
      addonNapiVersion: null,
      opencl: { available: false, reason: 'the loader failed', platforms: [] },
      openclRows: [] as [string, string][],
    };
  }
}

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values: flags } = parseCommandArgs({
    args: argv,
    strict: true,
    options: { json: { type: 'boolean' } },
  });
  const { openclRows, ...loaded } = await backendReport();
  // Written by scripts/install.js when the source build failed at install time (removed when one succeeds);
  // this file sits in dist/cli (or src/cli), two levels below the package root.
  const buildLog = path.join(__dirname, '..', '..', 'native-build.log');
  const report = {
    ...loaded,
    nativeBuildLog: fs.existsSync(buildLog) ? buildLog : null,
    node: process.version,
    napi: Number(process.versions.napi),
    platform: `${process.platform}-${process.arch}`,
    cpus: os.availableParallelism(),
    env: {
      HOTPATH_BACKEND: process.env.HOTPATH_BACKEND ?? null,
      HOTPATH_NATIVE_PATH: process.env.HOTPATH_NATIVE_PATH ?? null,
    },
  };
  if (flags.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    printTable([
      ['backend', report.backend],
      [
        'native addon',
        report.nativeLoaded
          ? `loaded from ${report.nativePath}`
          : `not loaded: ${report.nativeLoadError?.split('\n')[0]}`,
      ],
      ...(report.nativeBuildLog ? [['failed native build log', report.nativeBuildLog] as [string, string]] : []),
      ['addon N-API version', String(report.addonNapiVersion ?? '-')],
      ['node', report.node],
      ['node N-API version', String(report.napi)],
      ['platform', report.platform],
      ['cpus', String(report.cpus)],
      ...openclRows,
    ]);
  }
  // Exit 1 when the loader refused (invalid HOTPATH_BACKEND, or =native without an addon): the report says why.
  return report.backend === 'unavailable' ? 1 : 0;
}
