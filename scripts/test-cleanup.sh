# Sourced by scripts/test.sh: ends what a test run left behind, naming it, so that a leak shows
# in the log and the machine is left as found. The tests clean up after themselves; this is the
# net under them (a killed test, a crashed daemon, podman's rootless pause process).

# note_fresh_runtime RUN USER...: the test users' /tmp/hutch-UID (hutch's runtime folder without
# XDG_RUNTIME_DIR, made by tests such as cgroups.test.ts) that do not exist yet; end_of_run
# removes those the run then made, and leaves any that were there before.
note_fresh_runtime() {
  local run=$1 name uid; shift
  for name in "$@"; do
    uid=$(id -u "$name" 2>/dev/null) || continue
    [ -e "/tmp/hutch-$uid" ] || echo "/tmp/hutch-$uid" >> "$run/fresh-runtime"
  done
}

# end_of_run RUN CGROUP: the processes in the run's cgroup, the mounts under its folders
# (with scripts/testbed/cgroup.sh sourced).
end_of_run() {
  local run=$1 cg=$2 procs pids
  if [ -n "$cg" ] && [ -d "$cg" ]; then
    procs=$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')
    if [ -n "${procs// /}" ]; then
      pids=$(echo $procs | tr ' ' ',')
      echo "test: the suites left these processes running; ending them:"
      ps -o pid=,user=,args= -p "$pids" | cut -c1-160 | sed 's/^/  /'
    fi
    cgroup_end "$cg" || true
  fi
  # A FUSE daemon that died leaves its mount point mounted (deepest first).
  local roots=("$run/")
  [ -f "$run/scratch" ] && while read -r _ dir; do roots+=("$dir/"); done < "$run/scratch"
  findmnt -rn -o TARGET | grep -F "${roots[@]/#/-e}" | sort -r | while read -r mnt; do
    echo "test: unmounting $mnt, left mounted by the suites"
    umount -l "$mnt" || true
  done
  [ -f "$run/fresh-runtime" ] && xargs -r rm -rf < "$run/fresh-runtime"
  return 0
}
