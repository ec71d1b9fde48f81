/**
 * CPU time of other processes, read from Linux's /proc: how the benchmark tells what each
 * process of the end-to-end pipeline spends on one message. Elsewhere it reports nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks a second in /proc/PID/stat; 100 on every Linux this runs on. */
const TICKS_PER_SECOND = 100;

interface ProcessStat {
  readonly pid: number;
  readonly group: number;
  readonly cpuMs: number;
}

function readStat(pid: number): ProcessStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is parenthesised and may hold spaces: fields start after it.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const group = Number(fields[2]);
    const ticks = Number(fields[11]) + Number(fields[12]);
    return { pid, group, cpuMs: (ticks * 1000) / TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds one process has used, or undefined without /proc. */
export function processCpuMs(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : readStat(pid)?.cpuMs;
}

/** CPU milliseconds the live processes of one process group have used. */
export function groupCpuMs(group: number | undefined): number | undefined {
  if (group === undefined) return undefined;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  let total = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat?.group === group) total += stat.cpuMs;
  }
  return total;
}

/** This process's CPU milliseconds. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
