// The file `hotpath mprof run` writes and `plot`/`peak` read: the command, when it ran, and its
// memory over time. JSON with a format tag, so a file from anywhere else is refused clearly.
import fs from 'node:fs';
import path from 'node:path';
import { typeName } from '../core/validate.js';

export const MPROFILE_FORMAT = 'hotpath-mprofile';
export const MPROFILE_VERSION = 1;

export interface MprofSample {
  /** Seconds since the command started. */
  t: number;
  /** Resident set size of the command and all its descendants, in bytes. */
  rss: number;
  /** How many processes the tree had. */
  processes: number;
}

export interface Mprofile {
  format: typeof MPROFILE_FORMAT;
  version: typeof MPROFILE_VERSION;
  command: string[];
  /** ISO 8601 start time. */
  startedAt: string;
  intervalMs: number;
  /** The command's exit status, or null when a signal ended it. */
  exitCode: number | null;
  signal: string | null;
  samples: MprofSample[];
}

/** The sample with the highest RSS (the first of equals); undefined for an empty profile. */
export function peakSample(profile: Mprofile): MprofSample | undefined {
  let peak: MprofSample | undefined;
  for (const s of profile.samples) if (!peak || s.rss > peak.rss) peak = s;
  return peak;
}

/** The command on one line (an inline script's newlines folded), cut to `max` characters. */
export function commandLine(profile: Mprofile, max: number): string {
  const text = profile.command.join(' ').replace(/\s+/g, ' ');
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** mprofile_YYYYMMDDhhmmss.json in `dir`, with _2, _3… when runs start within the same second. */
export function writeMprofile(profile: Mprofile, dir: string, explicit?: string): string {
  const text = JSON.stringify(profile) + '\n';
  if (explicit !== undefined) {
    fs.writeFileSync(explicit, text);
    return explicit;
  }
  const stamp = profile.startedAt.replace(/[-:T]/g, '').slice(0, 14);
  for (let n = 1; ; n++) {
    const file = path.join(dir, `mprofile_${stamp}${n === 1 ? '' : `_${n}`}.json`);
    try {
      fs.writeFileSync(file, text, { flag: 'wx' });
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** The newest mprofile_*.json in `dir` (names sort by time), as `mprof plot` with no file uses. */
export function latestMprofile(dir: string): string {
  const names = fs.readdirSync(dir).filter((n) => /^mprofile_\d{14}(_\d+)?\.json$/.test(n));
  if (names.length === 0) {
    throw new Error(`no mprofile_*.json in ${dir}: run 'hotpath mprof run -- <command>' first, or name a file`);
  }
  const stampOf = (n: string) => {
    const [, stamp, seq] = /^mprofile_(\d{14})(?:_(\d+))?/.exec(n)!;
    return Number(stamp) * 1e4 + Number(seq ?? 1);
  };
  names.sort((a, b) => stampOf(a) - stampOf(b));
  return path.join(dir, names[names.length - 1]);
}

export function readMprofile(file: string): Mprofile {
  const text = fs.readFileSync(file, 'utf8');
  const foreign = (why: string) => new Error(`${file} is not a hotpath mprof profile (${why})`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // memory_profiler's own mprof writes lines like "CMDLINE python x.py" and "MEM 12.5 1700000000.1".
    if (/^(CMDLINE|MEM|FUNC|CHLD) /m.test(text)) throw foreign("it looks like Python memory_profiler's .dat format");
    throw foreign('not JSON');
  }
  const o = (data ?? {}) as Record<string, unknown>;
  if (typeof data !== 'object' || Array.isArray(data) || o.format !== MPROFILE_FORMAT) {
    throw foreign(`no "format": "${MPROFILE_FORMAT}" field`);
  }
  if (o.version !== MPROFILE_VERSION)
    throw foreign(`unsupported version ${JSON.stringify(o.version)}, this hotpath reads version ${MPROFILE_VERSION}`);
  if (!Array.isArray(o.command) || !o.command.every((c) => typeof c === 'string'))
    throw foreign('"command" must be an array of strings');
  if (!Array.isArray(o.samples)) throw foreign(`"samples" must be an array, got ${typeName(o.samples)}`);
  o.samples.forEach((s: unknown, i) => {
    const sample = (s ?? {}) as Record<string, unknown>;
    const ok = ['t', 'rss', 'processes'].every(
      (k) => typeof sample[k] === 'number' && Number.isFinite(sample[k]) && (sample[k] as number) >= 0,
    );
    if (!ok) throw foreign(`sample ${i} needs finite, non-negative t, rss and processes`);
  });
  return data as Mprofile;
}
