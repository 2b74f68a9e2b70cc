// Compiler stderr → short diagnostics lines `file:line:col: severity: message`. Source excerpts,
// carets, "N errors generated." and tool chatter are dropped; the user has the file open already.

import { SledgeError } from '../contract/errors.ts';

export type Severity = 'error' | 'warning' | 'note';

export interface Diagnostic {
  /** `file`, `file:line` or `file:line:col` (already mapped to the user's path). */
  location: string;
  severity: Severity;
  message: string;
}

export interface DiagnosticsOptions {
  /** Maps a path as the compiler printed it to the path the user knows (virtual FS, temp objects). */
  mapPath?: (file: string) => string;
  /** Where a tool-level error without a location (a linker error) is attributed. */
  source: string;
}

// `file:line:col: error: msg`, also `file:line: error:` (some tools omit the column).
const LOCATED = /^(.+?):(\d+)(?::(\d+))?: (fatal error|error|warning|note): (.*)$/;
// `wasm-ld: error: /tmp/fn-1234.o: undefined symbol: f`, `error: undefined symbol: f (…)`, `clang: error: …`.
const TOOL = /^(?:([\w.+-]+): )?(error|warning): (.*)$/;
// Objects in a temp dir mean nothing to the user: the symbol name is what matters.
const OBJECT_PREFIX = /^(?:[^\s:]*\/)?[^\s:/]+\.o: /;

const NOTE_MAX = 160;

export function parseDiagnostics(stderr: string, opts: DiagnosticsOptions): Diagnostic[] {
  const out: Diagnostic[] = [];
  const mapPath = opts.mapPath ?? ((f: string) => f);
  for (const raw of stderr.split(/\r?\n/)) {
    const line = raw.replace(/\x1b\[[0-9;]*m/g, '').trimEnd();
    if (line === '') continue;
    const m = LOCATED.exec(line);
    if (m) {
      const file = mapPath(m[1]!);
      const location = m[3] === undefined ? `${file}:${m[2]}` : `${file}:${m[2]}:${m[3]}`;
      const severity: Severity = m[4] === 'fatal error' ? 'error' : (m[4] as Severity);
      let message = m[5]!;
      if (severity === 'note' && message.length > NOTE_MAX) message = message.slice(0, NOTE_MAX - 1) + '…';
      out.push({ location, severity, message });
      continue;
    }
    const t = TOOL.exec(line);
    if (t) {
      const tool = t[1];
      const severity = t[2] as Severity;
      const message = t[3]!.replace(OBJECT_PREFIX, '').replace(/ \(referenced by top-level compiled C\/C\+\+ code\)$/, '');
      // emcc echoes the failed subprocess command line: noise once the real errors are shown.
      if (tool === 'emcc' && /' failed \(returned \d+\)$/.test(message)) continue;
      // Tool-level warnings are hints about the tool's own flags, not about the user's code.
      if (severity === 'warning') continue;
      out.push({ location: opts.source, severity, message });
    }
    // Everything else (excerpts, carets, "In file included from", summaries) is dropped.
  }
  return out;
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${d.location}: ${d.severity}: ${d.message}`;
}

/**
 * The error for a failed compile. When nothing in stderr looked like a diagnostic, its last lines
 * are shown as they are, so the user is never left with no reason at all.
 */
export function compileFailure(source: string, stderr: string, opts: DiagnosticsOptions): SledgeError {
  const diags = parseDiagnostics(stderr, opts);
  const errors = diags.filter((d) => d.severity === 'error').length;
  let details: string[];
  if (errors > 0) {
    details = diags.map(formatDiagnostic);
  } else {
    const lines = stderr.split(/\r?\n/).map((l) => l.trimEnd()).filter((l) => l !== '');
    details = lines.length > 20 ? ['…', ...lines.slice(-20)] : lines;
    if (details.length === 0) details = ['(the compiler printed nothing)'];
  }
  const what = errors > 0 ? ` (${errors} error${errors === 1 ? '' : 's'})` : '';
  return new SledgeError('CC_ERROR', `${source}: compilation failed${what}`, {
    hint: 'fix the errors above and build again',
    details,
  });
}

/** Warnings and their notes from a successful compile, for the CLI to show. */
export function compileWarnings(stderr: string, opts: DiagnosticsOptions): string[] {
  return parseDiagnostics(stderr, opts).map(formatDiagnostic);
}
