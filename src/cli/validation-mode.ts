// A CLI command is a short-lived process that validates a handful of documents (a trust policy, a
// few manifests and referrer lists). zod compiles a parser for each object schema on its first use
// (its JIT, `new Function`), which pays off over thousands of parses and costs a cold command more
// than it saves: about 10 ms of a cold `signet verify` (bench: `npm run bench -- startup`).
// `signet serve` validates every manifest pushed for as long as it runs, and keeps the JIT.
import * as z from 'zod';

/** Validation interprets its schemas; call before any schema is built (they read it then). */
export function interpretValidation(): void {
  z.config({ jitless: true });
}
