/**
 * Crash tests: run a Node script (TypeScript through tsx) in a child process and SIGKILL it once
 * its output shows it is midway through its work. Reused by the store-level and CLI-level
 * resumability tests (`irra-tfjs index --store lancedb://DIR`).
 */
import { spawn } from 'node:child_process';

/** What {@link killMidway} saw. */
export interface KilledRun {
  /** The signal that ended the child ('SIGKILL' when it was killed), or null when it exited. */
  signal: NodeJS.Signals | null;
  /** Its exit code when it exited by itself. */
  code: number | null;
  /** Everything it wrote to stdout and stderr. */
  stdout: string;
  stderr: string;
}

/** Options of {@link killMidway}. */
export interface KillMidwayOptions {
  /** Called with the whole stdout so far after each chunk; SIGKILL is sent once it returns true. */
  killWhen: (stdout: string) => boolean;
  /** Milliseconds to wait after `killWhen` turned true before killing (lands the kill mid-write). */
  delayMs?: number;
  /** Kill and reject after this many milliseconds if `killWhen` never turns true. Default 60,000. */
  timeoutMs?: number;
  /** Working directory of the child. */
  cwd?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * Starts `node --import tsx <script> ...args` (a `.ts` or `.js` file, or the CLI's entry) and kills
 * it with SIGKILL when `killWhen(stdout)` holds (after `delayMs`). Resolves when the child has
 * gone, with its signal, code and output; the caller asserts that it was killed (`signal ===
 * 'SIGKILL'`) rather than finished.
 */
export function killMidway(script: string, args: readonly string[], options: KillMidwayOptions): Promise<KilledRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let armed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `killMidway: ${script} did not reach the kill point in ${options.timeoutMs ?? 60_000} ms; stdout: ${stdout}; stderr: ${stderr}`,
        ),
      );
    }, options.timeoutMs ?? 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!armed && options.killWhen(stdout)) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), options.delayMs ?? 0);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ signal, code, stdout, stderr });
    });
  });
}
