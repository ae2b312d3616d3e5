#!/usr/bin/env node
// The `hotpath` command: dispatches to one module per subcommand.
import { demoCommand } from './demo/index.js';
import { doctorCommand, doctorHelp } from './doctor.js';
import { fetchCommand, fetchHelp } from './fetch.js';
import { UsageError } from './io.js';
import { mprofCommand, mprofHelp } from './mprof.js';
import { statsCommand, statsHelp } from './stats.js';
import { topkCommand, topkHelp } from './topk.js';
import { workerCommand, workerHelp } from './worker.js';

type Command = (argv: string[]) => Promise<number>;

const demoHelp = 'Usage: hotpath demo\n\nA timed tour of every capability on generated data.\n';

const commands: Record<string, { run: Command; help: string; summary: string }> = {
  stats: { run: statsCommand, help: statsHelp, summary: 'streaming count, mean, variance, skewness, kurtosis of numbers' },
  topk: { run: topkCommand, help: topkHelp, summary: 'heavy hitters of lines or words through a count-min sketch' },
  doctor: { run: doctorCommand, help: doctorHelp, summary: 'which backend is live and why; Node, N-API, CPUs, OpenCL devices' },
  fetch: { run: fetchCommand, help: fetchHelp, summary: 'fetch a URL through the persistent RFC 9111 HTTP cache' },
  mprof: { run: mprofCommand, help: mprofHelp, summary: "record, plot and summarize a command's memory over time" },
  worker: { run: workerCommand, help: workerHelp, summary: 'run ClusterExecutor jobs from a BullMQ queue on Redis' },
  demo: {
    run: async (argv) => {
      if (argv[0] === '--help' || argv[0] === '-h') {
        process.stdout.write(demoHelp);
        return 0;
      }
      if (argv.length > 0) throw new UsageError(`demo takes no arguments, got '${argv[0]}'`);
      return demoCommand();
    },
    help: demoHelp,
    summary: 'a timed tour of every capability on generated data',
  },
};

const usage = `Usage: hotpath <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}

Run 'hotpath <command> --help' for a command's options.
`;

// A closed pipe (`hotpath demo | head`) ends the output, as for any Unix filter, without a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`hotpath: unknown command '${name}'\n\n${usage}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    const err = error as Error;
    if (err instanceof UsageError) {
      process.stderr.write(`hotpath ${name}: ${err.message}\nRun 'hotpath ${name} --help' for usage.\n`);
      return 2;
    }
    const code = (err as NodeJS.ErrnoException).code;
    process.stderr.write(`hotpath ${name}: ${code === 'ENOENT' ? `no such file: ${(err as NodeJS.ErrnoException).path}` : err.message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`hotpath: ${(error as Error).stack}\n`);
    process.exitCode = 1;
  },
);
