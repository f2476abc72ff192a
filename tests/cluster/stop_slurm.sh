#!/usr/bin/env bash
# Stop the cluster started by start_slurm.sh STATE_DIR: cancel its jobs, then end the daemons by their
# recorded pids (newest first), SIGKILL after 10 s.
set -uo pipefail
state=${1:?usage: stop_slurm.sh STATE_DIR}
[ -f "$state/pids" ] || exit 0
pids=$(tac "$state/pids")
# cancel this cluster's jobs first: their slurmstepd processes would outlive slurmd
SLURM_CONF="$state/slurm.conf" timeout 10 scancel --user="$(id -un)" 2>/dev/null && sleep 1
for pid in $pids; do kill "$pid" 2>/dev/null; done
for _ in $(seq 50); do
  alive=0
  for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.2
done
for pid in $pids; do kill -9 "$pid" 2>/dev/null; done
: > "$state/pids"
exit 0
