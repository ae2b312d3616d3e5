#!/usr/bin/env node
// The `hotpath` command: dispatches to one module per subcommand.
import { demoCommand } from './demo.js';
import { doctorCommand, doctorHelp } from './doctor.js';
import { fetchCommand, fetchHelp } from './fetch.js';
import { UsageError } from './io.js';
import { mprofCommand, mprofHelp } from './mprof.js';
import { statsCommand, statsHelp } from './stats.js';
import { topkCommand, topkHelp } from './topk.js';
import { workerCommand, workerHelp } from './worker.js';

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, { run: Command; help: string }> = {
  stats: { run: statsCommand, help: statsHelp },
  topk: { run: topkCommand, help: topkHelp },
  doctor: { run: doctorCommand, help: doctorHelp },
  fetch: { run: fetchCommand, help: fetchHelp },
  mprof: { run: mprofCommand, help: mprofHelp },
  worker: { run: workerCommand, help: workerHelp },
  demo: { run: demoCommand, help: 'Usage: hotpath demo\n\nA timed tour of every capability on generated data.\n' },
};

const usage = `Usage: hotpath <command> [options]

Commands:
${Object.entries(commands)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.help.split('\n')[2] ?? ''}`)
  .join('\n')}

Run 'hotpath <command> --help' for a command's options.
`;

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
