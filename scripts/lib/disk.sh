# Disk use of a test run, for scripts/test: `disk_watch_start` prints the free
# space of the file systems the run writes to (the checkout and TMPDIR), samples
# them every 5 s, and at exit prints the most the run took from each. A disk
# that fills makes tests fail with ENOSPC far from the cause (a CI run failed
# that way), so the figures are in every log and a small disk is named up front.

# What a cold run of scripts/test was measured to take (docs/benchmarks.md).
DISK_NEEDED_GB=${DISK_NEEDED_GB:-12}

disk_free_kb() { df -Pk "$1" | awk 'NR == 2 { print $4 }'; }
disk_mount() { df -P "$1" | awk 'NR == 2 { print $6 }'; }

disk_watch_start() {
  local tmp=${TMPDIR:-/tmp} d
  DISK_DIRS=(.)
  [ "$(disk_mount "$tmp")" != "$(disk_mount .)" ] && DISK_DIRS+=("$tmp")
  DISK_LOG=$(mktemp)
  for d in "${DISK_DIRS[@]}"; do
    local free
    free=$(disk_free_kb "$d")
    echo "== disk: $((free / 1048576)) GB free on $(disk_mount "$d") ($d) at the start"
    if [ "$d" = . ] && [ "$free" -lt $((DISK_NEEDED_GB * 1048576)) ]; then
      echo "WARNING: a cold run takes about $DISK_NEEDED_GB GB on $(disk_mount .); only $((free / 1048576)) GB free:" \
        "tests may fail with 'No space left on device'" >&2
    fi
  done
  (
    declare -A start low
    for d in "${DISK_DIRS[@]}"; do start[$d]=$(disk_free_kb "$d"); low[$d]=${start[$d]}; done
    while sleep 5; do
      for d in "${DISK_DIRS[@]}"; do
        f=$(disk_free_kb "$d")
        [ "$f" -lt "${low[$d]}" ] && low[$d]=$f
        echo "$d ${start[$d]} ${low[$d]}"
      done >"$DISK_LOG.new" && mv "$DISK_LOG.new" "$DISK_LOG"
    done
  ) &
  DISK_WATCHER=$!
  trap disk_watch_report EXIT
}

disk_watch_report() {
  kill "$DISK_WATCHER" 2>/dev/null
  local d start low
  while read -r d start low; do
    echo "== disk: the run took at most $(((start - low) / 1024)) MB on $(disk_mount "$d") ($d);" \
      "$((low / 1024)) MB were left at the lowest"
  done <"$DISK_LOG"
  rm -f "$DISK_LOG" "$DISK_LOG.new"
}
