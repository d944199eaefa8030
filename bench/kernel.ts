// Kernel benchmark (not a test): this kernel against tslab, side by side, over the Jupyter
// protocol from the same TypeScript client. Run after `npm run build`:
//   node dist/bench/kernel.js [--runs 200] [--starts 5] [--no-tslab] [--no-history]
// Measures: process start to first kernel_info_reply (client connected before the spawn,
// so the request waits in ZeroMQ until the kernel binds); `1+1` execute round trip (reply
// and idle) median and p95; a declaring cell (`const v<i>: number = <i>;`, a new name each
// time, so the carried declarations grow) median; for this kernel also the interrupt_reply
// latency while a cell loops synchronously; and, for this kernel in a fresh process, the
// declaring-cell median and the kernel's RSS after 1, 100 and 1000 declaring cells (history
// must not slow it). tslab is npm-installed into a temp folder.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { KernelClient, newConnectionInfo } from "../kernel/client.js";
import { KERNEL_ENV, kernelArgv } from "../kernel/cli.js";
import { decode, encode, endpoint, makeMessage, signingKey } from "../kernel/wire.js";

/** Declaring-cell latency and kernel RSS after a number of declaring cells. */
interface HistoryPoint {
  cells: number;
  declaring: number;
  rssMB: number;
}

const HISTORY_AT = [1, 100, 1000];
/** Declaring cells timed at each point (their median is reported). */
const HISTORY_SAMPLES = 21;

interface Row {
  name: string;
  start: number[];
  onePlusOne: number[];
  declaring: number[];
  interrupt?: number[];
}

const arg = (flag: string, fallback: number) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const RUNS = arg("--runs", 200);
const STARTS = arg("--starts", 5);

const median = (xs: number[]) => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo]! + (s[Math.min(lo + 1, s.length - 1)]! - s[lo]!) * (pos - lo);
}

/** Spawn to first kernel_info_reply, in ms. */
async function startTime(argv: string[], cwd: string): Promise<number> {
  const info = await newConnectionInfo();
  const dir = mkdtempSync(join(tmpdir(), "tb-bench-"));
  const file = join(dir, "conn.json");
  writeFileSync(file, JSON.stringify(info));
  const key = signingKey(info.key);
  const shell = new zmq.Dealer({ linger: 0 });
  shell.connect(endpoint(info, "shell"));
  const request = makeMessage("kernel_info_request", {}, undefined, "bench", { identities: [] });
  const [cmd, ...args] = argv.map((a) => a.replace("{connection_file}", file));
  const t0 = performance.now();
  const child = spawn(cmd!, args, { cwd, stdio: ["ignore", "ignore", "inherit"] });
  await shell.send(encode(request, key));
  for (;;) {
    const frames = await shell.receive();
    const r = decode(frames, key);
    if (r.ok && r.msg.header.msg_type === "kernel_info_reply") break;
  }
  const ms = performance.now() - t0;
  shell.close();
  child.kill("SIGKILL");
  await new Promise((r) => child.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
  return ms;
}

/** The kernel's resident set size in MB, read by a cell (this kernel runs cells in-process). */
async function kernelRss(k: KernelClient): Promise<number> {
  const r = await k.execute("process.memoryUsage().rss");
  const out = r.outputs.find((m) => m.header.msg_type === "execute_result");
  const text = (out?.content as { data?: Record<string, string> } | undefined)?.data?.["text/plain"] ?? "";
  const bytes = Number(text.replace(/_/g, ""));
  if (!Number.isFinite(bytes)) throw new Error(`bench: cannot read the kernel's RSS from ${JSON.stringify(text)}`);
  return bytes / 1e6;
}

/**
 * Declaring cells (`const h<i>: number = <i>;`, new names) in a fresh kernel: at each point
 * of HISTORY_AT, the median of HISTORY_SAMPLES more declaring cells, then the RSS.
 */
async function measureHistory(argv: string[], cwd: string): Promise<HistoryPoint[]> {
  const points: HistoryPoint[] = [];
  // The environment of the installed kernelspec: RSS depends on it.
  const k = await KernelClient.launch({ argv, cwd, env: { ...process.env, ...KERNEL_ENV } }, 60_000);
  try {
    for (let i = 0; i < 20; i++) await timeCell(k, "1+1");
    let n = 0;
    for (const at of HISTORY_AT) {
      while (n < at - 1) await timeCell(k, `const h${n++}: number = ${n};`);
      const times: number[] = [];
      for (let i = 0; i < HISTORY_SAMPLES; i++) times.push(await timeCell(k, `const h${n++}: number = ${n};`));
      points.push({ cells: at, declaring: median(times), rssMB: await kernelRss(k) });
    }
  } catch (e) {
    console.error(`bench: history measurement failed after ${points.length} points: ${(e as Error).message}`);
  } finally {
    await k.shutdown();
  }
  return points;
}

async function timeCell(k: KernelClient, code: string): Promise<number> {
  const t = performance.now();
  const r = await k.execute(code);
  const ms = performance.now() - t;
  if (r.reply.content.status !== "ok") throw new Error(`bench: cell ${JSON.stringify(code)} failed: ${JSON.stringify(r.reply.content)}`);
  return ms;
}

/** Measures one kernel; a failure mid-way keeps what was measured and names the stage. */
async function measure(name: string, argv: string[], cwd: string, withInterrupt: boolean): Promise<Row> {
  const row: Row = { name, start: [], onePlusOne: [], declaring: [] };
  let stage = "start";
  let k: KernelClient | undefined;
  try {
    for (let i = 0; i < STARTS; i++) row.start.push(await startTime(argv, cwd));
    stage = "launch";
    k = await KernelClient.launch({ argv, cwd }, 60_000);
    stage = "warm-up";
    for (let i = 0; i < 20; i++) await timeCell(k, "1+1"); // engine loaded, code paths hot
    stage = "1+1";
    for (let i = 0; i < RUNS; i++) row.onePlusOne.push(await timeCell(k, "1+1"));
    stage = "declaring cell";
    for (let i = 0; i < RUNS; i++) row.declaring.push(await timeCell(k, `const v${i}: number = ${i};`));
    if (withInterrupt) {
      stage = "interrupt";
      row.interrupt = [];
      for (let i = 0; i < 10; i++) {
        const running = k.execute("while (true) {}", { stop_on_error: false });
        await new Promise((r) => setTimeout(r, 100));
        const t = performance.now();
        await k.request("control", "interrupt_request", {}, 5000);
        row.interrupt.push(performance.now() - t);
        await running;
      }
    }
  } catch (e) {
    console.error(`bench: ${name} failed during "${stage}" after ${row.onePlusOne.length + row.declaring.length} timed cells: ${(e as Error).message}`);
  } finally {
    await k?.shutdown();
  }
  return row;
}

/** npm-installs tslab into a temp folder; returns its kernel argv, or undefined when that fails. */
function installTslab(): { argv: string[]; dir: string } | undefined {
  const dir = join(tmpdir(), "tensorbook-bench-tslab");
  const bin = join(dir, "node_modules", "tslab", "bin", "tslab");
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bench-tslab", private: true }));
    try {
      console.error("bench: npm install tslab (once, into " + dir + ") ...");
      execFileSync("npm", ["install", "--no-audit", "--no-fund", "tslab"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
    } catch (e) {
      console.error(`bench: cannot install tslab (${(e as Error).message}); measuring this kernel only`);
      return undefined;
    }
  }
  return { argv: [process.execPath, bin, "kernel", "--config-path", "{connection_file}"], dir };
}

const fmt = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? "-" : x < 10 ? x.toFixed(2) : x.toFixed(0));

async function main(): Promise<void> {
  const cwd = mkdtempSync(join(tmpdir(), "tb-bench-nb-"));
  const rows: Row[] = [await measure("tensorbook", kernelArgv(), cwd, true)];
  const history = process.argv.includes("--no-history") ? [] : await measureHistory(kernelArgv(), cwd);
  const tslab = process.argv.includes("--no-tslab") ? undefined : installTslab();
  if (tslab) rows.push(await measure("tslab", tslab.argv, tslab.dir, false));
  const [tb, other] = rows as [Row, Row | undefined];
  const stats = (r: Row) => ({
    start: median(r.start),
    startMin: Math.min(...r.start),
    startMax: Math.max(...r.start),
    p50: median(r.onePlusOne),
    p95: quantile(r.onePlusOne, 0.95),
    decl: median(r.declaring),
  });
  const a = stats(tb);
  const b = other ? stats(other) : undefined;
  const ratio = (x: number, y: number | undefined) => (y === undefined ? "-" : `${(y / x).toFixed(1)}x`);
  console.log(`Node ${process.versions.node}, ${RUNS} runs, ${STARTS} starts; times in ms (tslab / tensorbook = ratio)`);
  console.log("| measure | tensorbook | tslab | ratio |");
  console.log("|---|---|---|---|");
  console.log(`| start to first kernel_info_reply (median of ${STARTS}) | ${fmt(a.start)} (${fmt(a.startMin)}-${fmt(a.startMax)}) | ${b ? `${fmt(b.start)} (${fmt(b.startMin)}-${fmt(b.startMax)})` : "-"} | ${ratio(a.start, b?.start)} |`);
  console.log(`| \`1+1\` round trip, median | ${fmt(a.p50)} | ${fmt(b?.p50)} | ${ratio(a.p50, b?.p50)} |`);
  console.log(`| \`1+1\` round trip, p95 | ${fmt(a.p95)} | ${fmt(b?.p95)} | ${ratio(a.p95, b?.p95)} |`);
  console.log(`| declaring cell, median | ${fmt(a.decl)} | ${fmt(b?.decl)} | ${ratio(a.decl, b?.decl)} |`);
  if (tb.interrupt) console.log(`| interrupt_reply during \`while (true) {}\`, median (max) | ${fmt(median(tb.interrupt))} (${fmt(Math.max(...tb.interrupt))}) | - | - |`);
  for (const p of history) console.log(`| declaring cell after ${p.cells} declaring cell${p.cells === 1 ? "" : "s"}, median (kernel RSS MB) | ${fmt(p.declaring)} (${p.rssMB.toFixed(0)}) | - | - |`);
  rmSync(cwd, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    console.error(`bench: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
