// server.mjs: the test-only Go servers the e2e tests drive. goBinary builds
// one (unless an environment variable names a binary already built, as the
// Go launchers do); startServer runs it for one test and resolves with the
// URL of its `LISTEN <url>` line.
import { before, after } from "node:test";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
// root is the repository root (e2e/lib/../..), where `go build` runs.
export const root = path.resolve(here, "..", "..");

// goBinary registers before/after hooks on the calling file's root test:
// before builds the Go package pkg (e.g. "./agentdesk/internal/e2eserver")
// into a temporary directory named with prefix, as file name, unless the
// environment variable env names a binary; after removes that directory.
// It returns a function that gives the binary's path (known once before ran).
export function goBinary({ env, pkg, prefix, name = "e2eserver" }) {
  let binary = process.env[env];
  let buildDir;
  before(() => {
    if (binary) return;
    buildDir = mkdtempSync(path.join(tmpdir(), prefix));
    binary = path.join(buildDir, name);
    execFileSync("go", ["build", "-o", binary, pkg], { cwd: root, stdio: "inherit" });
  }, { timeout: 300_000 });
  after(() => {
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });
  return () => binary;
}

// startServer starts binary with args for test t and resolves with the URL
// it prints as `LISTEN <url>`; name is used in error messages. The process
// stops at the end of t (end of stdin, then SIGTERM).
export function startServer(t, binary, args = [], name = "e2eserver") {
  const child = spawn(binary, args, { stdio: ["pipe", "pipe", "inherit"] });
  t.after(() => {
    child.stdin.end(); // the server stops at end of stdin
    child.kill("SIGTERM");
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not print LISTEN`)), 20_000);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^LISTEN (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
}
