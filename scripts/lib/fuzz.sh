# Shared by scripts/fuzz and scripts/fuzz-campaign: builds the cargo-fuzz
# targets of fuzz/, replays seeds and regressions, keeps new crashes.
# Usage: source scripts/lib/fuzz.sh; fuzz_init [TARGET...]; then per target
# fuzz_replay T, fuzz_run T LOG ARGS..., fuzz_keep_crashes T LOG.
#
# Stable Rust only: cargo-fuzz's nightly flags are allowed with
# RUSTC_BOOTSTRAP=1. Sanitizer: FUZZ_SANITIZER (default address; falls back
# to none when the ASan build fails). Debug assertions are on (overflow
# checks), as in the tests.

FUZZ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ="$FUZZ_ROOT/fuzz"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$FUZZ/target}
SAN=${FUZZ_SANITIZER:-address}
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
FAILED=()

fuzz_build() {
  cargo fuzz build --fuzz-dir "$FUZZ" --target-dir "$CARGO_TARGET_DIR" \
    --sanitizer "$SAN" --debug-assertions "$@"
}

# Installs cargo-fuzz if needed, sets TARGETS (the arguments, else every
# target) and builds them. Exits 2 when that is impossible.
fuzz_init() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked || { echo "fuzz: cannot install cargo-fuzz" >&2; exit 2; }
  fi
  cd "$FUZZ_ROOT" || exit 2
  if [ $# -gt 0 ]; then
    TARGETS=("$@")
  else
    mapfile -t TARGETS < <(cargo fuzz list --fuzz-dir "$FUZZ")
  fi
  echo "fuzz: building ${#TARGETS[@]} targets (sanitizer $SAN, debug assertions on)" >&2
  if ! fuzz_build; then
    if [ "$SAN" != none ]; then
      echo "fuzz: build with sanitizer $SAN failed on this toolchain, retrying with --sanitizer none" >&2
      SAN=none
      fuzz_build || { echo "fuzz: build failed" >&2; exit 2; }
    else
      echo "fuzz: build failed" >&2; exit 2
    fi
  fi
}

fuzz_bin() { echo "$CARGO_TARGET_DIR/$TRIPLE/release/$1"; }

# Runs every seed and every kept regression of target $1 once; a crash adds
# "$1(replay)" to FAILED.
fuzz_replay() {
  local t=$1 inputs=() log="$FUZZ/artifacts/$1.replay.log"
  mkdir -p "$FUZZ/artifacts/$t"
  for d in "$FUZZ/seeds/$t" "$FUZZ/regressions/$t"; do
    [ -d "$d" ] || continue
    while IFS= read -r f; do inputs+=("$f"); done < <(find "$d" -maxdepth 1 -type f ! -name '*.why' | sort)
  done
  [ ${#inputs[@]} -eq 0 ] && return 0
  if ! "$(fuzz_bin "$t")" -runs=1 "${inputs[@]}" >"$log" 2>&1; then
    echo "fuzz: $t: a seed or regression input crashes (see $log)" >&2
    grep -a -B1 -A2 -E "panicked at|ERROR: AddressSanitizer" "$log" | head -8 >&2
    FAILED+=("$t(replay)")
    return 1
  fi
  echo "fuzz: $t: ${#inputs[@]} seeds and regressions replayed" >&2
}

# Runs target $1's binary with the remaining arguments, logging to $2;
# prints the executions; keeps a crash (see fuzz_keep_crashes).
fuzz_run() {
  local t=$1 log=$2 art="$FUZZ/artifacts/$1"
  shift 2
  mkdir -p "$art"
  local before
  before=$(ls "$art" | sort)
  "$(fuzz_bin "$t")" "$@" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$art/" -print_final_stats=1 \
    >"$log" 2>&1
  FUZZ_RC=$?
  FUZZ_EXECS=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  FUZZ_NEW=$(comm -13 <(echo "$before") <(ls "$art" | sort) | grep -v '^$' || true)
  # Stopped by SIGINT/SIGTERM (libFuzzer exits 72 and leaves no input): not a
  # finding. FUZZ_INTERRUPTED tells the caller.
  FUZZ_INTERRUPTED=
  if [ -z "$FUZZ_NEW" ] && grep -q "libFuzzer: run interrupted" "$log"; then
    FUZZ_INTERRUPTED=1
    echo "fuzz: $t interrupted after ${FUZZ_EXECS:-?} executions" >&2
    return
  fi
  if [ $FUZZ_RC -ne 0 ] || [ -n "$FUZZ_NEW" ]; then
    FAILED+=("$t")
    echo "fuzz: $t CRASHED (exit $FUZZ_RC) after ${FUZZ_EXECS:-?} executions" >&2
    grep -a -A3 -E "panicked at|ERROR: (libFuzzer|AddressSanitizer)" "$log" | head -8 >&2
    fuzz_keep_crashes "$t" "$log"
  fi
}

# Copies the crash inputs fuzz_run found ($FUZZ_NEW) to
# fuzz/regressions/$1/ with a .why (where it broke), unless a kept input
# already has the same .why; prints each as hex.
fuzz_keep_crashes() {
  local t=$1 log=$2 art="$FUZZ/artifacts/$1" regs="$FUZZ/regressions/$1" why known a
  mkdir -p "$regs"
  why=$(grep -a -m1 -E "panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer: (timeout|out-of-memory)" "$log" |
    sed -e 's/^thread .* panicked at/panicked at/' -e 's#/[^ ]*/registry/src/[^/]*/##')
  for a in $FUZZ_NEW; do
    known=$(grep -lxF -- "$why" "$regs"/*.why 2>/dev/null | head -1)
    if [ -n "$why" ] && [ -n "$known" ]; then
      echo "fuzz: $t: same crash as fuzz/regressions/$t/$(basename "${known%.why}") ($why): not kept again" >&2
      continue
    fi
    cp "$art/$a" "$regs/$a"
    echo "$why" >"$regs/$a.why"
    echo "fuzz: $t: input kept as fuzz/regressions/$t/$a ($(stat -c %s "$art/$a") bytes), $why:" >&2
    od -An -tx1 -v "$art/$a" | tr -d ' \n' | fold -w 128 | head -16 >&2
    echo >&2
  done
}
