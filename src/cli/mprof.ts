// `hotpath mprof run|plot|peak`: memory_profiler's mprof for any command. `run` samples a command's
// process tree into mprofile_<timestamp>.json, `plot` draws it as SVG (or PNG through a converter
// found on PATH), `peak` prints the highest point.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commandLine, latestMprofile, peakSample, readMprofile, writeMprofile } from '../memprof/mprofile.js';
import { renderMemoryPlot } from '../memprof/plot.js';
import { recordCommand, SpawnError } from '../memprof/record.js';
import { errorLine, formatNumber, parseCommandArgs, UsageError } from './io.js';

const MIB = 1024 * 1024;

export function parseInterval(text: string): number {
  const match = /^(\d+(?:\.\d*)?|\.\d+)(ms|s)?$/.exec(text.trim());
  const ms = match ? Number(match[1]) * (match[2] === 's' ? 1000 : 1) : NaN;
  if (!(ms >= 1))
    throw new UsageError(`--interval must be a duration of at least 1ms such as 10ms or 0.5s, got '${text}'`);
  return ms;
}

function mib(bytes: number): string {
  return `${formatNumber(Number((bytes / MIB).toFixed(1)))} MiB`;
}

async function runCommand(argv: string[]): Promise<number> {
  const split = argv.indexOf('--');
  const { values: flags, positionals } = parseCommandArgs({
    args: split < 0 ? argv : argv.slice(0, split),
    allowPositionals: true,
    strict: true,
    options: { interval: { type: 'string' }, output: { type: 'string', short: 'o' } },
  });
  const command = [...positionals, ...(split < 0 ? [] : argv.slice(split + 1))];
  if (command.length === 0) throw new UsageError('mprof run needs a command to run after --');
  const intervalMs = flags.interval === undefined ? 100 : parseInterval(flags.interval);
  let profile;
  try {
    profile = await recordCommand(command, intervalMs);
  } catch (error) {
    if (!(error instanceof SpawnError)) throw error;
    process.stderr.write(`hotpath mprof: ${error.message}\n`);
    return error.exitCode;
  }
  const file = writeMprofile(profile, process.cwd(), flags.output);
  const peak = peakSample(profile);
  const summary = peak ? `peak ${mib(peak.rss)} at ${peak.t.toFixed(2)} s` : 'no samples (the command ended at once)';
  process.stderr.write(`hotpath mprof: ${summary}, ${profile.samples.length} samples written to ${file}\n`);
  if (profile.samples.length < 3) {
    // A command shorter than a few periods is barely sampled: its peak may be missed entirely.
    process.stderr.write(
      `hotpath mprof: only ${profile.samples.length} sample(s) at --interval ${intervalMs}ms; use a shorter ` +
        `--interval (e.g. 10ms) for short commands\n`,
    );
  }
  // Like a shell: the command's status, or 128 + the signal number when a signal ended it.
  if (profile.signal) return 128 + os.constants.signals[profile.signal as NodeJS.Signals];
  return profile.exitCode ?? 1;
}

// The SVG through whichever converter is installed; hotpath itself never rasterizes.
function writePng(svg: string, output: string): void {
  const converters: [string, string[]][] = [
    ['rsvg-convert', ['--format', 'png', '--output', output]],
    ['magick', ['svg:-', `png:${output}`]],
    ['convert', ['svg:-', `png:${output}`]],
  ];
  for (const [tool, args] of converters) {
    const result = spawnSync(tool, args, { input: svg, stdio: ['pipe', 'ignore', 'pipe'] });
    if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') continue;
    if (result.status !== 0)
      throw new Error(`${tool} could not convert the plot to PNG: ${result.stderr.toString().trim()}`);
    return;
  }
  throw new Error('writing PNG needs rsvg-convert (librsvg) or ImageMagick on PATH; write an .svg file instead');
}

function plotCommand(argv: string[]): number {
  const { values: flags, positionals } = parseCommandArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { output: { type: 'string', short: 'o' } },
  });
  if (positionals.length > 1) throw new UsageError(`expected at most one profile file, got ${positionals.length}`);
  const input = positionals[0] ?? latestMprofile(process.cwd());
  const output = flags.output ?? input.replace(/(\.json)?$/, '.svg');
  const extension = path.extname(output).toLowerCase();
  if (extension !== '.svg' && extension !== '.png')
    throw new UsageError(`--output must end in .svg or .png, got '${output}'`);
  const svg = renderMemoryPlot(readMprofile(input));
  if (extension === '.png') writePng(svg, output);
  else fs.writeFileSync(output, svg);
  process.stderr.write(`hotpath mprof: plot written to ${output}\n`);
  return 0;
}

function peakCommand(argv: string[]): number {
  const { values: flags, positionals } = parseCommandArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { json: { type: 'boolean' } },
  });
  const files = positionals.length > 0 ? positionals : [latestMprofile(process.cwd())];
  // Every readable file is reported; an unreadable one is named on stderr and makes the exit status 1.
  let failed = 0;
  const peaks = [];
  for (const file of files) {
    let profile;
    try {
      profile = readMprofile(file);
    } catch (error) {
      failed++;
      process.stderr.write(`hotpath mprof: ${errorLine(error)}\n`);
      continue;
    }
    const peak = peakSample(profile);
    peaks.push({
      file,
      command: profile.command,
      peakBytes: peak?.rss ?? 0,
      peakMiB: (peak?.rss ?? 0) / MIB,
      t: peak?.t ?? 0,
      profile,
    });
  }
  if (flags.json) {
    const rows = peaks.map(({ profile: _profile, ...row }) => row);
    if (rows.length > 0) process.stdout.write(JSON.stringify(files.length === 1 ? rows[0] : rows) + '\n');
  } else {
    peaks.forEach((p) =>
      process.stdout.write(`${p.file}\t${mib(p.peakBytes)}\tat ${p.t.toFixed(2)} s\t${commandLine(p.profile, 80)}\n`),
    );
  }
  return failed > 0 ? 1 : 0;
}

export async function mprofCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'run':
      return runCommand(rest);
    case 'plot':
      return plotCommand(rest);
    case 'peak':
      return peakCommand(rest);
    case undefined:
      throw new UsageError('expected a subcommand: run, plot or peak');
    default:
      throw new UsageError(`unknown subcommand '${sub}': expected run, plot or peak`);
  }
}
