# Memory of one process, sourced by the device benches (soak.sh, soak-memory.sh, cache-compare.sh).
# proc_rss_mib PID: host resident memory, MiB;  proc_gpu_mib PID: its GPU memory (nvidia-smi), MiB.
proc_rss_mib() { ps -o rss= -p "$1" 2>/dev/null | awk '{printf "%.0f", $1/1024}'; }
proc_gpu_mib() { nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits 2>/dev/null | awk -F', *' -v p="$1" '$1==p{print $2}'; }
