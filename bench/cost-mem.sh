# Resident memory of the runtime's processes a container leaves (bench/cost.bench.sh): every
# descendant of HOLDER (a `cost-reap -h` subreaper that ran the `run -d` commands, so that what
# detaches is reparented to it) in the host's pid namespace: the container's own processes
# (their own pid namespace), what was there before (podman's pause process) and other users of
# the machine are left out. Prints one JSON line: pss, rss, pssAnon and pssFile in KiB, summed,
# and each process with its name (node processes named by their hutch entry).
#
# Run by busybox (static: it maps no shared library and no node), never by node: PSS divides each
# page among the processes mapping it, so a node measurer would take half of the node binary's
# pages of a lone Node daemon for itself (the daemon's PSS then depends on who measures it).
# Usage (as root): busybox sh cost-mem.sh HOLDER_PID
holder=$1
hostns=$(busybox readlink /proc/self/ns/pid)
# "PID PPID" of every process, then the holder's descendants (pids, one a line).
busybox grep -H '^PPid:' /proc/[0-9]*/status 2>/dev/null |
  busybox awk -F'[/:\t ]+' '{ print $3, $6 }' |
  busybox awk -v root="$holder" '
    { kids[$2] = kids[$2] " " $1 }
    END {
      todo[1] = root; n = 1
      while (n > 0) {
        p = todo[n--]; m = split(kids[p], list, " ")
        for (i = 1; i <= m; i++) { print list[i]; todo[++n] = list[i] }
      }
    }' |
  while read -r pid; do
    [ "$(busybox readlink "/proc/$pid/ns/pid" 2>/dev/null)" = "$hostns" ] || continue
    rollup=$(busybox cat "/proc/$pid/smaps_rollup" 2>/dev/null) || continue
    comm=$(busybox cat "/proc/$pid/comm" 2>/dev/null)
    argv=$(busybox tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)
    echo "$rollup" | busybox awk -v pid="$pid" -v comm="$comm" -v argv="$argv" '
      /^(Rss|Pss|Pss_Anon|Pss_File):/ { v[substr($1, 1, length($1) - 1)] = $2 }
      END {
        if (v["Rss"] == 0) exit # a zombie or a kernel thread
        name = comm
        if (comm == "node" || comm ~ /^MainThread/) {
          n = split(argv, a, " "); entry = ""
          for (i = 1; i <= n && entry == ""; i++)
            if (a[i] ~ /^(monitor|fuseDaemon|forwarder|cli|upperReader)$/ || a[i] ~ /(main|child)\.js$/) entry = a[i]
          if (entry == "") entry = substr(argv, index(argv, " ") + 1, 40)
          name = "node:" entry
        }
        gsub(/["\\]/, "", name)
        printf "{\"pid\":%d,\"name\":\"%s\",\"pss\":%d,\"rss\":%d,\"pssAnon\":%d,\"pssFile\":%d}\n", pid, name, v["Pss"], v["Rss"], v["Pss_Anon"], v["Pss_File"]
      }'
  done |
  busybox awk -F'[:,]' '
    { procs = procs (NR > 1 ? "," : "") $0
      for (i = 1; i < NF; i++) if ($i ~ /"(pss|rss|pssAnon|pssFile)"$/) { k = $i; gsub(/"/, "", k); sum[k] += $(i + 1) } }
    END { printf "{\"pss\":%d,\"rss\":%d,\"pssAnon\":%d,\"pssFile\":%d,\"procs\":[%s]}\n", sum["pss"], sum["rss"], sum["pssAnon"], sum["pssFile"], procs }'
