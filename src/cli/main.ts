import { Command, CommanderError } from 'commander';
import { exitCodeFor, SIGNET_VERSION, SignetError } from '../index.ts';
import { registerCommands } from './commands/index.ts';
import { printError } from './output.ts';

/**
 * Builds the `signet` program; exported so tests can run commands in-process. With `command` (the
 * first argument of a run), only the commands defined beside it are registered (start-up).
 */
export function buildProgram(command?: string): Command {
  const program = new Command('signet')
    .description(
      'Sign OCI artifacts, keep the signatures beside them, move both together, verify them under a trust policy.'
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: true })
    .exitOverride();
  program.addHelpText(
    'after',
    `
References:
  host[:port]/repo[:tag][@digest]     a registry (localhost and 127.0.0.1 use plain HTTP; see --plain-http, --insecure)
  oci:<dir|file.tar|http(s)://url>[:tag|@digest]   an OCI image layout (always written with oci:)
      a layout manifest is named by a tag or a Flatpak ref: oci:./bundle:app/org.example.App/x86_64/stable

Exit codes: 0 success, 1 verification failed, 2 usage error (unknown command or option, malformed
argument or reference, unknown option value), 3 inconclusive or any other failure.

Examples:
  signet serve --addr 127.0.0.1:5000 --root ./registry
  signet push 127.0.0.1:5000/app:v1 ./app.tar --artifact-type application/vnd.example.app
  signet copy 127.0.0.1:5000/app:v1 oci:./app-layout:v1
  signet discover 127.0.0.1:5000/app:v1`
  );
  registerCommands(program, command);
  return program;
}

const VERSION = SIGNET_VERSION;

/** Runs the CLI and returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  // The first argument names the command unless it is an option (--help, --version): register
  // that command alone; anything else (help, a misspelt command) gets the full program.
  const first = argv[0];
  const command = first !== undefined && !first.startsWith('-') ? first : undefined;
  // Before the command loads the library (its schemas are built as their modules load).
  if (command !== undefined && command !== 'serve' && command !== 'help')
    (await import('./validation-mode.ts')).interpretValidation();
  const program = buildProgram(command);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return 0;
      return 2;
    }
    printError(err);
    return exitCodeFor(err);
  }
}

const isMain = process.argv[1] !== undefined && /(?:^|[/\\])(?:main\.(?:ts|js)|signet(?:\.js)?)$/.test(process.argv[1]);
if (isMain) {
  // `signet … | head` closes the pipe early: that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  run(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      printError(err instanceof Error ? err : new SignetError('INTERNAL', String(err)));
      process.exitCode = 3;
    }
  );
}
