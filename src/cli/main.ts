#!/usr/bin/env node
// The `hotpath` command: dispatches to one module per subcommand. Modules are imported only when their
// command runs, and help comes from ./help.js, so a broken backend (HOTPATH_BACKEND wrong, addon missing)
// costs one line on stderr for the commands that need it, while --help, --version and doctor still work.
import fs from 'node:fs';
import path from 'node:path';
import { commandHelp, mainHelp, type CommandName } from './help.js';
import { errorLine, UsageError } from './io.js';

type Command = (argv: string[]) => Promise<number>;

const commands: Record<CommandName, () => Promise<Command>> = {
  stats: async () => (await import('./stats.js')).statsCommand,
  topk: async () => (await import('./topk.js')).topkCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
  fetch: async () => (await import('./fetch.js')).fetchCommand,
  mprof: async () => (await import('./mprof.js')).mprofCommand,
  worker: async () => (await import('./worker.js')).workerCommand,
  demo: async () => {
    const { demoCommand } = await import('./demo/index.js');
    return async (argv) => {
      if (argv.length > 0) throw new UsageError(`demo takes no arguments, got '${argv[0]}'`);
      return demoCommand();
    };
  },
};

// A closed pipe (`hotpath demo | head`) ends the output, as for any Unix filter, without a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

function version(): string {
  // dist/cli/main.js and src/cli/main.ts both sit two levels below the package root.
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** True when the command's own arguments (not those after `--`, which belong to a child command) ask for help. */
function wantsHelp(argv: string[]): boolean {
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  return own.includes('--help') || own.includes('-h');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (!Object.hasOwn(commands, name)) {
    process.stderr.write(`hotpath: unknown command '${name}'\n\n${mainHelp}`);
    return 2;
  }
  const commandName = name as CommandName;
  if (wantsHelp(rest)) {
    process.stdout.write(commandHelp[commandName].help);
    return 0;
  }
  try {
    const run = await commands[commandName]();
    return await run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`hotpath ${name}: ${error.message}\nRun 'hotpath ${name} --help' for usage.\n`);
      return 2;
    }
    process.stderr.write(`hotpath ${name}: ${errorLine(error)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`hotpath: ${errorLine(error)}\n`);
    process.exitCode = 1;
  },
);
