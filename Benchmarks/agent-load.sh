# Shared by agent-cost.sh and agent-side-by-side.sh (source it): what the agent benchmarks measure and the
# load they put on the agents.

# Nanoseconds on CPU of every thread of process $1 (schedstat run time).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }

# For SECONDS, as Prometheus and a user would: /metrics of every agent (its ADDRESS) every 15 s, the UI's
# stacks API once a minute. Usage: scrape_agents SECONDS ADDRESS...
scrape_agents() {
  local seconds=$1 end tick=0 address
  shift
  end=$(($(date +%s) + seconds))
  while [ "$(date +%s)" -lt "$end" ]; do
    sleep 15
    tick=$((tick + 1))
    for address in "$@"; do
      curl -s "http://$address/metrics" >/dev/null
      if [ $((tick % 4)) -eq 0 ]; then curl -s "http://$address/api/v1/stacks" >/dev/null; fi
    done
  done
}
