#!/usr/bin/env bash
# Sets up everything cosim needs, idempotently: ngspice 46 (KLU + OSDI) from Debian bookworm-backports
# (or the distro's ngspice >= 39 elsewhere), a virtual environment in .venv, the cosim package and the
# Verilog-A compiler. Re-running it is fast: each step is skipped when already satisfied.
# Usage: bash scripts/setup.sh [--test] [--data NAME]
#   --test       also installs the test dependencies
#   --data NAME  also installs a data set into cosim's cache (mnist or mnist5k; `cosim data install NAME`);
#                COSIM_DATA=NAME does the same. Nothing needs one: the default experiments use built-in data.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${COSIM_VENV:-$ROOT/.venv}"
WANT_TEST=0
WANT_DATA="${COSIM_DATA:-}"
while (( $# )); do
  case "$1" in
    --test) WANT_TEST=1 ;;
    --data) WANT_DATA="${2:?--data needs a data set name (mnist or mnist5k)}"; shift ;;
    *) echo "setup.sh: unknown option $1 (use --test, --data NAME)" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33m[setup] warning:\033[0m %s\n' "$*" >&2; }

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

ngspice_major() {
  # Prints the major version of the installed ngspice package (0 when absent).
  local v
  v=$(dpkg-query -W -f='${Version}' ngspice 2>/dev/null || true)
  [[ -z "$v" ]] && { echo 0; return; }
  v="${v#*:}"; echo "${v%%[.+]*}"
}

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

debian_mirror() {
  # The URI apt already uses for the bookworm suite (deb822 or one-line format).
  local uri=""
  if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
    uri=$(awk '/^URIs:/{u=$2} /^Suites:/ && / bookworm( |$)|: bookworm( |$)/{print u; exit}' \
      /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  fi
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri=$(awk '$1=="deb" && $3=="bookworm"{print $2; exit}' /etc/apt/sources.list || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

install_ngspice_debian12() {
  local src=/etc/apt/sources.list.d/cosim-bookworm-backports.sources
  if ! apt-cache policy ngspice 2>/dev/null | grep -q 'bookworm-backports'; then
    if [[ ! -f "$src" ]]; then
      say "adding Debian bookworm-backports (for ngspice 46 with KLU and OSDI)"
      printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$(debian_mirror)" | $SUDO tee "$src" >/dev/null
    fi
    $SUDO apt-get update -qq
  fi
  say "installing ngspice 46 from bookworm-backports"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports \
    ngspice libngspice0 libngspice0-dev >/dev/null
}

install_ngspice_other() {
  if command -v apt-get >/dev/null 2>&1; then
    say "installing the distribution's ngspice"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq ngspice libngspice0 libngspice0-dev >/dev/null
  elif command -v dnf >/dev/null 2>&1; then
    $SUDO dnf install -y ngspice libngspice-devel
  else
    warn "unknown package manager: install ngspice (>= 39) and libngspice by hand"
  fi
  local major; major=$(ngspice_major)
  if (( major > 0 && major < 42 )); then
    warn "ngspice $major has no KLU solver and no OSDI (Verilog-A) support: cosim will use the slower"
    warn "B-source device models and the sparse solver. ngspice >= 42 removes both limits."
  fi
}

# 1. ngspice
. /etc/os-release 2>/dev/null || true
if [[ "${ID:-}" == "debian" && "${VERSION_ID:-}" == "12" ]]; then
  if (( $(ngspice_major) < 46 )) || ! have_pkg libngspice0-dev; then install_ngspice_debian12; fi
else
  if (( $(ngspice_major) < 39 )) || ! have_pkg libngspice0-dev; then install_ngspice_other; fi
fi

# 2. Python virtual environment
PY="${PYTHON:-python3}"
if [[ ! -x "$VENV/bin/python" ]]; then
  say "creating the virtual environment $VENV"
  if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    if command -v apt-get >/dev/null 2>&1; then
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$VENV"; "$PY" -m venv "$VENV"
    else
      echo "python3 -m venv failed; install the venv module for $PY" >&2; exit 1
    fi
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip
fi

# 3. the package (a real install, not editable: it must find its data files on its own), with the dependency
#    versions the tests pass with (constraints.txt, for the test extras too; refreshed by scripts/lock.sh)
STAMP="$VENV/.cosim-installed"
EXTRAS=""
(( WANT_TEST )) && EXTRAS="[test]"
LOCK="$ROOT/constraints.txt"
# Reinstall only when the sources or the lock changed: hash every tracked and untracked (not ignored) file,
# constraints.txt included.
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  HASH=$( (cd "$ROOT" && git ls-files -z -co --exclude-standard | xargs -0 sha1sum 2>/dev/null; echo "$EXTRAS") \
    | sha1sum | cut -c1-40)
else
  HASH="no-git-$(date +%s)"  # outside a git checkout: always reinstall
fi
if [[ ! -f "$STAMP" ]] || [[ "$(cat "$STAMP")" != "$HASH" ]]; then
  say "installing cosim$EXTRAS into $VENV"
  "$VENV/bin/python" -m pip install -q -c "$LOCK" "$ROOT$EXTRAS"
  echo "$HASH" >"$STAMP"
else
  say "cosim is up to date in $VENV"
fi

# 4. an optional data set (opt-in: the main job and the tests use built-in data)
if [[ -n "$WANT_DATA" ]]; then
  say "installing the data set $WANT_DATA into cosim's cache"
  "$VENV/bin/cosim" data install "$WANT_DATA"
fi
