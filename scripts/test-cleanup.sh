# Sourced by scripts/test.sh: ends what a test run left behind, naming it, so that a leak shows
# in the log and the machine is left as found. The tests clean up after themselves; this is the
# net under them (a killed test, a crashed daemon, podman's rootless pause process).

# end_of_run RUN CGROUP: the processes in the run's cgroup, the mounts under its folders.
end_of_run() {
  local run=$1 cg=$2 procs pids
  if [ -d "$cg" ]; then
    procs=$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')
    if [ -n "${procs// /}" ]; then
      pids=$(echo $procs | tr ' ' ',')
      echo "test: the suites left these processes running; ending them:"
      ps -o pid=,user=,args= -p "$pids" | cut -c1-160 | sed 's/^/  /'
      echo 1 > "$cg/cgroup.kill"
    fi
    for _ in $(seq 100); do
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
      [ -d "$cg" ] || break
      sleep 0.1
    done
    [ -d "$cg" ] && echo "test: could not remove the run's cgroup $cg"
  fi
  # A FUSE daemon that died leaves its mount point mounted (deepest first).
  local roots=("$run/")
  [ -f "$run/scratch" ] && while read -r _ dir; do roots+=("$dir/"); done < "$run/scratch"
  findmnt -rn -o TARGET | grep -F "${roots[@]/#/-e}" | sort -r | while read -r mnt; do
    echo "test: unmounting $mnt, left mounted by the suites"
    umount -l "$mnt" || true
  done
  return 0
}
