// server.mjs: the servers the e2e tests drive. omniroute() is the real
// server binary (./cmd/omniroute; OMNIROUTE_BIN when the Go launcher built
// it, once per test process) and startOmniroute runs `omniroute serve` for
// one test. goBinary builds any other Go package (the component servers
// with fault-injection endpoints that the real binary does not have) and
// startServer runs one, resolving with the URL of its `LISTEN <url>` line.
import { before, after } from "node:test";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
// root is the repository root (e2e/lib/../..), where `go build` runs.
export const root = path.resolve(here, "..", "..");

// goBinary registers before/after hooks on the calling file's root test:
// before builds the Go package pkg (e.g. "./bayeux/internal/e2eserver")
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

// omniroute registers the build of the real server binary on the calling
// file's root test (goBinary of ./cmd/omniroute, unless OMNIROUTE_BIN names
// it) and returns the function that gives its path.
export function omniroute() {
  return goBinary({ env: "OMNIROUTE_BIN", pkg: "./cmd/omniroute", prefix: "omniroute-e2e-bin-", name: "omniroute" });
}

// dataDir makes a temporary directory for test t (removed at its end,
// through cleanup as for startOmniroute) and, when config (YAML text) is
// given, writes it there as omniroute.yaml. Returns the paths {dir, data,
// config} (data is the journal directory, config the file or undefined).
export function dataDir(t, config, { prefix = "omniroute-e2e-", cleanup = (fn) => t.after(fn) } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  cleanup(() => rmSync(dir, { recursive: true, force: true }));
  let file;
  if (config !== undefined) {
    file = path.join(dir, "omniroute.yaml");
    writeFileSync(file, config);
  }
  return { dir, data: path.join(dir, "data"), config: file };
}

// startOmniroute runs `omniroute serve --config <dir.config> --data-dir
// <dir.data> --listen 127.0.0.1:0 [args...]` (binary: omniroute()'s path)
// for test t and resolves with {url, stop} once it printed "omniroute
// listening on <url>". stop() sends SIGTERM (the server closes cleanly, so
// a restart on the same data directory resumes its journal and streams)
// and resolves once it exited with status 0. At the end of t a server
// still running is stopped (SIGKILL after 10 s), through cleanup when given
// (a function registering a function to run at the end of t, for files
// that order their cleanups), else t.after. The server's log (stderr) is
// kept and printed when it fails to start or exits non-zero.
export function startOmniroute(t, binary, dir, { args = [], cleanup = (fn) => t.after(fn) } = {}) {
  const argv = ["serve", "--data-dir", dir.data, "--listen", "127.0.0.1:0", ...args];
  if (dir.config) argv.splice(1, 0, "--config", dir.config);
  const child = spawn(binary, argv, { stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  readline.createInterface({ input: child.stderr }).on("line", (line) => {
    log.push(line);
    if (log.length > 200) log.shift();
  });
  let exited = false;
  const exit = new Promise((resolve) => child.once("exit", (code, signal) => {
    exited = true;
    resolve({ code, signal });
  }));
  const waitExit = (ms) => Promise.race([exit, new Promise((r) => setTimeout(() => r(null), ms).unref())]);
  const stop = async () => {
    if (exited) return;
    child.kill("SIGTERM");
    let r = await waitExit(15_000);
    if (!r) {
      child.kill("SIGKILL");
      r = await exit;
      throw new Error("omniroute did not stop within 15 s of SIGTERM\n" + log.join("\n"));
    }
    if (r.code !== 0) throw new Error(`omniroute exited ${JSON.stringify(r)}\n${log.join("\n")}`);
  };
  cleanup(async () => {
    if (exited) return;
    child.kill("SIGTERM");
    if (!(await waitExit(10_000))) child.kill("SIGKILL");
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("omniroute did not start within 60 s\n" + log.join("\n"))), 60_000);
    child.once("error", reject);
    exit.then((r) => reject(new Error(`omniroute exited ${JSON.stringify(r)}\n${log.join("\n")}`)));
    readline.createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^omniroute listening on (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], stop });
      }
    });
  });
}
