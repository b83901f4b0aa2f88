# Sourced by the test scripts that give a run's processes a cgroup of their own, to end them all.

# The cgroup v2 hierarchy: hybrid hosts (v1 controllers) keep it at /sys/fs/cgroup/unified.
cgroup_hierarchy() {
  if [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then echo /sys/fs/cgroup/unified; else echo /sys/fs/cgroup; fi
}

# cgroup_end DIR: kills every process left in DIR's subtree, then removes it bottom-up.
cgroup_end() {
  local dir=$1
  [ -d "$dir" ] || return 0
  if [ -e "$dir/cgroup.kill" ]; then echo 1 > "$dir/cgroup.kill" 2>/dev/null || true; fi
  for _ in $(seq 100); do
    find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
    [ -d "$dir" ] || return 0
    sleep 0.1
  done
  echo "could not remove the cgroup $dir" >&2
  return 1
}
