/**
 * The machine's process list as tests read it (Linux /proc): a process's children and command line, whether
 * a process is alive, and which process listens on a TCP port. No `ps` or `ss` parsing, whose columns differ
 * between versions.
 * @module
 */
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** The command line, one argument per element. */
  args: string[];
}

/** State and parent of a process from `/proc/<pid>/stat`; undefined once it is gone. */
async function readStat(pid: number): Promise<{ state: string; ppid: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after its last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** A living process (a zombie, which has ended and waits for its parent to collect it, is not). */
async function readEntry(pid: number): Promise<ProcessEntry | undefined> {
  const stat = await readStat(pid);
  if (!stat || stat.state === 'Z') return undefined;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return { pid, ppid: stat.ppid, args: cmdline.split('\0').filter((a) => a !== '') };
}

/** The living processes whose parent is `ppid`. */
export async function childProcesses(ppid: number): Promise<ProcessEntry[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const entries = await Promise.all(pids.map(readEntry));
  return entries.filter((e): e is ProcessEntry => e !== undefined && e.ppid === ppid);
}

/** Whether a process with this pid exists and has not ended (a zombie has ended). */
export async function isAlive(pid: number): Promise<boolean> {
  return (await readEntry(pid)) !== undefined;
}

/** The socket inodes listening on TCP `port` (IPv4 and IPv6). */
async function listeningInodes(port: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(table, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const line of lines) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      // st 0A = LISTEN; the port is the hex after the address.
      if (local && fields[3] === '0A' && parseInt(local.split(':')[1]!, 16) === port) inodes.add(fields[9]!);
    }
  }
  return inodes;
}

/** Which of `pids` holds the socket listening on TCP `port`; undefined if none does. */
export async function listeningPid(port: number, pids: number[]): Promise<number | undefined> {
  const inodes = await listeningInodes(port);
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => []);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode !== undefined && inodes.has(inode)) return pid;
    }
  }
  return undefined;
}
