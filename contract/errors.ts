// User-facing errors: a stable code, a message that says what went wrong, and a hint that says what
// to do. CLIs print these as one or two lines, never as a stack trace.

export class SledgeError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  /** Extra lines (compiler diagnostics, a list of unknown imports…), printed under the message. */
  readonly details: readonly string[];

  constructor(code: string, message: string, opts: { hint?: string; details?: readonly string[]; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SledgeError';
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details ?? [];
  }
}

export function isSledgeError(e: unknown): e is SledgeError {
  return e instanceof SledgeError;
}

/** Renders an error the way every CLI prints it: `prog: error[CODE]: message`, details, `hint: …`. */
export function formatError(prog: string, e: SledgeError): string {
  const lines = [`${prog}: error[${e.code}]: ${e.message}`];
  for (const d of e.details) lines.push(`  ${d}`);
  if (e.hint) lines.push(`  hint: ${e.hint}`);
  return lines.join('\n');
}
