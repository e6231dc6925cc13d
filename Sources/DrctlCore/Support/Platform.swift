// drctl supports Linux only: child processes are tracked (and orphans stopped on resume) through
// /proc/<pid>/stat, and run locks tell a live owner from a dead one the same way. Rather than compile where that
// cannot work, the build stops here.
#if !os(Linux)
    #error("drctl runs on Linux only: it tracks child processes and run locks through /proc (see README)")
#endif
