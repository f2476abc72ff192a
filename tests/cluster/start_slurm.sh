#!/usr/bin/env bash
# Start a one-node SLURM cluster (munged, slurmctld, slurmd) with fake GPUs, all state under STATE_DIR.
#   tests/cluster/start_slurm.sh STATE_DIR
# prints the environment its clients need:  export SLURM_CONF=STATE_DIR/slurm.conf PATH=STATE_DIR/bin:$PATH
# Daemons run in the foreground of background processes; their pids go to STATE_DIR/pids (one per line) so
# stop_slurm.sh ends exactly these. Needs root (or the slurm/munge packages and a writable STATE_DIR) and
# the Debian packages slurm-wlm and munge. CPUS / MEM_MB / GPUS (1..4) / CTLD_PORT / SLURMD_PORT override
# the defaults (all cores, 80 % of the memory, 1 GPU, ports 16817/16818).
set -euo pipefail
state=$(realpath -m "${1:?usage: start_slurm.sh STATE_DIR}")
here=$(cd "$(dirname "$0")" && pwd)
host=$(hostname -s)
cpus=${CPUS:-$(nproc)}
mem_mb=${MEM_MB:-$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 8 / 10 ))}
ctld_port=${CTLD_PORT:-16817}
slurmd_port=${SLURMD_PORT:-16818}
gpus=${GPUS:-1}   # fake GPUs: /dev/null, /dev/zero, /dev/full, /dev/random stand in for device files

mkdir -p "$state"/{munge,ctld,slurmd,log}
chmod 711 "$state/munge"
: > "$state/pids"
fill() {
  sed -e "s|@STATE@|$state|g" -e "s|@HOST@|$host|g" -e "s|@USER@|$(id -un)|g" -e "s|@CPUS@|$cpus|g" \
      -e "s|@MEM_MB@|$mem_mb|g" -e "s|@CTLD_PORT@|$ctld_port|g" -e "s|@SLURMD_PORT@|$slurmd_port|g" -e "s|@GPUS@|$gpus|g" "$1"
}
fill "$here/slurm.conf.in" > "$state/slurm.conf"
devices=(/dev/null /dev/zero /dev/full /dev/random)
{ fill "$here/gres.conf.in"; for i in $(seq 0 $((gpus - 1))); do echo "NodeName=$host Name=gpu File=${devices[$i]}"; done; } \
  > "$state/gres.conf"
export SLURM_CONF="$state/slurm.conf"
# The slurm-jobstep plugin starts each job step with `srun` in an environment stripped of SLURM_* variables
# (SLURM_CONF included), so srun inside a job would look for /etc/slurm/slurm.conf. A cluster-wide config
# lives there; this test cluster's does not, so its bin/srun puts SLURM_CONF back (PATH is exported to jobs).
mkdir -p "$state/bin"
printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$SLURM_CONF" "$(command -v srun)" > "$state/bin/srun"
chmod +x "$state/bin/srun"

# munge: a fresh key, our own socket
head -c 1024 /dev/urandom > "$state/munge/munge.key"
chmod 400 "$state/munge/munge.key"
munged --foreground --force --key-file="$state/munge/munge.key" --socket="$state/munge/munge.socket.2" \
  --pid-file="$state/munge/munged.pid" --log-file="$state/log/munged.log" --seed-file="$state/munge/seed" \
  > "$state/log/munged.out" 2>&1 &
echo $! >> "$state/pids"
for _ in $(seq 50); do [ -S "$state/munge/munge.socket.2" ] && break; sleep 0.1; done
munge --socket="$state/munge/munge.socket.2" -n | unmunge --socket="$state/munge/munge.socket.2" > /dev/null

slurmctld -D -i -f "$SLURM_CONF" > "$state/log/slurmctld.out" 2>&1 &
echo $! >> "$state/pids"
slurmd -D -f "$SLURM_CONF" > "$state/log/slurmd.out" 2>&1 &
echo $! >> "$state/pids"

# ready when the node is idle (give up after a minute, or as soon as a daemon died)
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
  for pid in $(cat "$state/pids"); do
    kill -0 "$pid" 2>/dev/null || { echo "a SLURM daemon (pid $pid) exited" >&2; deadline=0; }
  done
  if timeout 5 sinfo -h -N -o '%T' 2>/dev/null | grep -qx idle; then
    echo "export SLURM_CONF=$SLURM_CONF PATH=$state/bin:\$PATH"
    exit 0
  fi
  sleep 0.5
done
echo "SLURM did not come up; logs in $state/log:" >&2
tail -n 20 "$state"/log/*.log >&2 || true
exit 1
