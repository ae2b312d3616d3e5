// Every subcommand's one-line summary and --help text, in one table with no imports: `hotpath --help`,
// `hotpath <command> --help` and docs/cli.md read it, and printing help never loads the addon, so help
// works even when HOTPATH_BACKEND is wrong or the native addon cannot load.

export interface CommandHelp {
  summary: string;
  help: string;
}

const exitStatuses = `Exit status: 0 success, 1 failure (bad input or file, no result), 2 usage error.
Set HOTPATH_DEBUG=1 to see stack traces.`;

export const commandHelp = {
  stats: {
    summary: 'streaming count, mean, variance, skewness, kurtosis of numbers',
    help: `Usage: hotpath stats [file|-] [options]

Streams numbers (one per line, or CSV columns) from a file or stdin and prints
count, mean, variance (ddof=1), std, skewness, kurtosis (Fisher), min and max.
Memory stays constant whatever the input size.

Options:
  --column C        CSV column(s) to read: 1-based numbers or header names, comma-
                    separated (--column 2,3 or --column price), or 'all' for every
                    numeric column. Without --column each line is one number.
  --delimiter C     CSV field separator (default ","); quoting, CRLF and a BOM are handled
  --header          the first CSV row is a header (default: detected: a first row with
  --no-header       no number in the chosen columns is a header)
  --nan P           propagate | omit | raise (default omit)
  --strict          a malformed line is an error (default: skip it and count it)
  --allow-empty     no numbers at all is success (default: exit 1)
  --json            print one JSON object (NaN and Infinity as strings)
  -h, --help        show this help

Examples:
  seq 1 1000000 | hotpath stats
  hotpath stats prices.csv --column price --json
  hotpath stats data.csv --column 2,3 --delimiter ';'

${exitStatuses}
`,
  },
  topk: {
    summary: 'heavy hitters of lines or words through a count-min sketch',
    help: `Usage: hotpath topk [file|-] [options]

Streams lines (or words) from a file or stdin through a count-min sketch with a top-k heap and
prints the k most frequent with estimates and error bounds. Memory is bounded by the sketch.

Options:
  --k N             how many heavy hitters to keep (default 20)
  --epsilon E       additive error per estimate, as a fraction of the total (default 0.0001)
  --delta D         probability an estimate exceeds that error (default 0.001)
  --width W         sketch width instead of --epsilon (with --depth)
  --depth D         sketch depth instead of --delta (with --width)
  --by line|word    count whole lines (default; \n or \r\n ends a line) or words separated by
                    ASCII whitespace; empty ones are skipped
  --seed N          hash seed (default 0); runs merge only with equal seeds and dimensions
  --save FILE       write the sketch and candidates to FILE when done (checked before reading)
  --load FILE       start from a saved run (repeat to merge several); dimensions come from the file.
                    With --load and no input file, stdin is read only when it is not a terminal.
  --json            print one JSON object (keys exact, as JSON strings)
  -h, --help        show this help

In the table, keys are printed safely for a terminal: control characters (ESC included),
backslashes and lone surrogates are escaped as \\n, \\t, \\\\, \\xHH or \\u{H}; --json keeps them
exact. Keys are counted as bytes: a key that is not UTF-8 is shown as 0x and its hex bytes.

Examples:
  hotpath topk access.log --k 10
  tr -s ' ' '\\n' < book.txt | hotpath topk --save day1.topk
  hotpath topk --load day1.topk --load day2.topk --json

${exitStatuses}
`,
  },
  doctor: {
    summary: 'which backend is live and why; Node, N-API, CPUs, OpenCL devices',
    help: `Usage: hotpath doctor [--json]

Prints the live backend, why the native addon did or did not load, the Node and
N-API versions, the CPU count, and the OpenCL platforms and devices. It always runs,
also when HOTPATH_BACKEND is invalid or the native addon cannot load: then it says why.

Examples:
  hotpath doctor
  HOTPATH_BACKEND=native hotpath doctor --json

${exitStatuses}
`,
  },
  fetch: {
    summary: 'fetch a URL through the persistent RFC 9111 HTTP cache',
    help: `Usage: hotpath fetch URL [options]
       hotpath fetch --list [--cache DIR] [--json]
       hotpath fetch --delete PATTERN [--cache DIR]

Fetches URL through the RFC 9111 HTTP cache and prints the status, body size and
cache state (hit, miss, revalidated or stale). The cache persists between runs in
$XDG_CACHE_HOME/hotpath/http (~/.cache/hotpath/http when XDG_CACHE_HOME is unset).

Options:
  --cache DIR       cache directory instead (created if missing; a directory that
                    is not empty must already be a hotpath cache)
  --no-cache-dir    keep the cache in memory for this run only (every answer is a miss)
  --list            list the stored responses (URL, method, status, size, expires, hits)
  --delete PATTERN  delete the stored responses whose URL matches PATTERN (* = any
                    characters, scheme optional)
  --header 'K: V'   request header (repeatable)
  --output FILE     write the body to FILE (streamed)
  --json            print JSON (one object, or one per line with --list)
  -h, --help        show this help

Examples:
  hotpath fetch https://example.org/
  hotpath fetch https://example.org/data.json --output data.json --json
  hotpath fetch --delete 'example.org/*'

${exitStatuses}
`,
  },
  mprof: {
    summary: "record, plot and summarize a command's memory over time",
    help: `Usage: hotpath mprof run|plot|peak [options]

Records and plots a command's memory over time (like Python's mprof).

  hotpath mprof run [--interval 100ms] [-o file.json] -- <command> [args...]
      Runs the command, sampling the resident memory (RSS) of it and all its child
      processes, and writes mprofile_<timestamp>.json (or -o). Prints the peak on
      stderr and exits with the command's exit status.
  hotpath mprof plot [file] [-o chart.svg|chart.png]
      Draws memory (MiB) over time (s) with the peak marked. Default input: the newest
      mprofile_*.json here; default output: the input's name with .svg. PNG needs
      rsvg-convert or ImageMagick on PATH.
  hotpath mprof peak [file...] [--json]
      Prints each profile's peak memory and when it happened (--json: one object,
      or an array for several files). A file that can't be read is reported and the
      others are still printed; the exit status is then 1.

Options:
  --interval T      sampling period: 10ms, 0.5s, or milliseconds (default 100ms);
                    a command shorter than one period gets few or no samples
  -o, --output F    output file
  --json            machine-readable output (peak)
  -h, --help        show this help

Examples:
  hotpath mprof run --interval 10ms -- node build.js
  hotpath mprof plot -o memory.png
  hotpath mprof peak mprofile_*.json --json

${exitStatuses}
`,
  },
  worker: {
    summary: 'run ClusterExecutor jobs from a BullMQ queue on Redis',
    help: `Usage: hotpath worker --queue NAME --module M [options]

Runs cluster jobs (ClusterExecutor) from a BullMQ queue on Redis, on this machine.
Only exports of the --module allow-list run (nothing by default); job payloads are
data. Exports that start processes (openGateway, startClusterWorker) never run.

Options:
  --redis URL          redis://[user:password@]host:port[/db], rediss:// for TLS
                       (default redis://127.0.0.1:6379)
  --queue NAME         the queue to serve (required)
  --concurrency N      jobs at once (default 1)
  --module M           a module jobs may name: a path or package name (repeatable;
                       required)
  --lock-duration MS   a job whose worker stops renewing its lock this long is
                       re-queued for another worker (default 30000)
  --stalled-interval MS
                       how often expired locks are looked for (default: the lock
                       duration); a dead worker's job runs again between
                       lock-duration and lock-duration + stalled-interval after
                       its last lock renewal (up to 2 x 30 s by default)
  -h, --help           show this help

Prints one line on stderr once it serves the queue; stops cleanly on SIGINT or SIGTERM.

Examples:
  hotpath worker --queue jobs --module ./tasks.js --concurrency 4
  hotpath worker --redis rediss://user:pass@redis.internal:6380 --queue jobs --module ./tasks.js

${exitStatuses}
`,
  },
  demo: {
    summary: 'a timed tour of every capability on generated data',
    help: `Usage: hotpath demo

A timed tour of every capability on generated data.
`,
  },
} satisfies Record<string, CommandHelp>;

export type CommandName = keyof typeof commandHelp;

export const mainHelp = `Usage: hotpath <command> [options]

Commands:
${Object.entries(commandHelp)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}

Options:
  -h, --help      show this help
  -V, --version   print hotpath's version

Run 'hotpath <command> --help' for a command's options.
`;
