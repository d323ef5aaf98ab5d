/**
 * The runner's seccomp filter, written as classic BPF in TypeScript so that bubblewrap can load it
 * (`--seccomp FD`) without a native dependency such as libseccomp (docs/architecture.md §11).
 *
 * It refuses what a DuckDB query never needs and an escaped one would: creating sockets, new
 * processes (fork, vfork, clone without CLONE_THREAD, clone3), io_uring (whose operations seccomp
 * cannot see), tracing other processes, and the namespace, mount and keyring calls. execve itself
 * stays allowed — bubblewrap loads the filter and then execs the runner, so a filter refusing
 * execve would refuse the runner too; what a runner could exec is bounded instead by its root,
 * which holds no program but node.
 */

/** struct seccomp_data offsets (linux/seccomp.h). */
const NR = 0;
const ARCH = 4;
const ARG0_LOW = 16; // little-endian: the low 32 bits of args[0]

const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_JSET_K = 0x45;
const BPF_RET_K = 0x06;

const RET_ALLOW = 0x7fff0000;
const RET_KILL_PROCESS = 0x80000000;
const retErrno = (errno: number) => 0x00050000 | errno;
const EPERM = 1;
const ENOSYS = 38;
const CLONE_THREAD = 0x00010000;

type Refused =
  | 'socket'
  | 'fork'
  | 'vfork'
  | 'execveat'
  | 'ptrace'
  | 'process_vm_readv'
  | 'process_vm_writev'
  | 'bpf'
  | 'perf_event_open'
  | 'userfaultfd'
  | 'keyctl'
  | 'add_key'
  | 'request_key'
  | 'unshare'
  | 'setns'
  | 'mount'
  | 'umount2'
  | 'pivot_root'
  | 'chroot';
/** Answered ENOSYS, so that libc and libuv fall back to the calls above (clone, plain file I/O). */
type Absent = 'clone3' | 'io_uring_setup' | 'io_uring_enter' | 'io_uring_register';

interface Table {
  audit: number;
  /** x86_64 also accepts x32 syscall numbers (bit 30): those are refused whole. */
  x32Bit: boolean;
  clone: number;
  numbers: Partial<Record<Refused | Absent, number>>;
}

/** Syscall numbers from the kernel's tables (arch/x86/entry/syscalls/syscall_64.tbl; asm-generic/unistd.h). */
const TABLES: Record<string, Table> = {
  x64: {
    audit: 0xc000003e,
    x32Bit: true,
    clone: 56,
    numbers: {
      socket: 41,
      fork: 57,
      vfork: 58,
      execveat: 322,
      ptrace: 101,
      process_vm_readv: 310,
      process_vm_writev: 311,
      bpf: 321,
      perf_event_open: 298,
      userfaultfd: 323,
      keyctl: 250,
      add_key: 248,
      request_key: 249,
      unshare: 272,
      setns: 308,
      mount: 165,
      umount2: 166,
      pivot_root: 155,
      chroot: 161,
      clone3: 435,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
    },
  },
  arm64: {
    audit: 0xc00000b7,
    x32Bit: false,
    clone: 220,
    numbers: {
      socket: 198,
      execveat: 281,
      ptrace: 117,
      process_vm_readv: 270,
      process_vm_writev: 271,
      bpf: 280,
      perf_event_open: 241,
      userfaultfd: 282,
      keyctl: 219,
      add_key: 217,
      request_key: 218,
      unshare: 97,
      setns: 268,
      mount: 40,
      umount2: 39,
      pivot_root: 41,
      chroot: 51,
      clone3: 435,
      io_uring_setup: 425,
      io_uring_enter: 426,
      io_uring_register: 427,
    },
  },
};

const ABSENT: ReadonlySet<string> = new Set<Absent>([
  'clone3',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
]);

/** The syscalls the filter refuses, by name (for the docs and the health check). */
export function refusedSyscalls(arch: string = process.arch): string[] {
  return Object.keys(TABLES[arch]?.numbers ?? {}).concat(TABLES[arch] ? ['clone (new process)'] : []);
}

/**
 * The filter as bubblewrap reads it: an array of struct sock_filter (u16 code, u8 jt, u8 jf, u32 k),
 * little-endian. Null on an architecture without a table here (the caller says so; never silent).
 */
export function seccompProgram(arch: string = process.arch): Buffer | null {
  const t = TABLES[arch];
  if (!t) return null;
  const prog: [number, number, number, number][] = [];
  const op = (code: number, k: number, jt = 0, jf = 0) => prog.push([code, jt, jf, k >>> 0]);

  // a foreign architecture's calling convention could smuggle numbers past the table
  op(BPF_LD_W_ABS, ARCH);
  op(BPF_JEQ_K, t.audit, 1, 0);
  op(BPF_RET_K, RET_KILL_PROCESS);
  op(BPF_LD_W_ABS, NR);
  if (t.x32Bit) {
    op(BPF_JGE_K, 0x40000000, 0, 1);
    op(BPF_RET_K, retErrno(EPERM));
  }
  for (const [name, nr] of Object.entries(t.numbers)) {
    op(BPF_JEQ_K, nr, 0, 1);
    op(BPF_RET_K, retErrno(ABSENT.has(name) ? ENOSYS : EPERM));
  }
  // clone makes threads (allowed) and processes (refused): its flags tell which
  op(BPF_JEQ_K, t.clone, 0, 4);
  op(BPF_LD_W_ABS, ARG0_LOW);
  op(BPF_JSET_K, CLONE_THREAD, 0, 1);
  op(BPF_RET_K, RET_ALLOW);
  op(BPF_RET_K, retErrno(EPERM));
  op(BPF_RET_K, RET_ALLOW);

  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach(([code, jt, jf, k], i) => {
    buf.writeUInt16LE(code, i * 8);
    buf.writeUInt8(jt, i * 8 + 2);
    buf.writeUInt8(jf, i * 8 + 3);
    buf.writeUInt32LE(k, i * 8 + 4);
  });
  return buf;
}
