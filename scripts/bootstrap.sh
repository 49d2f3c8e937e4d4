#!/usr/bin/env bash
# Set up everything gr-srsaoa needs, idempotently (DESIGN section 8):
#   1. Debian packages for the GNU Radio build (only when missing),
#   2. .venv from /usr/bin/python3 --system-site-packages with pinned Python deps,
#   3. CMake configure/build/install of the module into .venv.
# A second run only checks, rebuilds what changed and reinstalls: seconds.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
build="$root/build"
py="$venv/bin/python"
log() { printf '[bootstrap] %s\n' "$*"; }

# 1. System packages -------------------------------------------------------------
apt_pkgs=(gnuradio-dev pybind11-dev libuhd-dev libboost-test-dev libeigen3-dev libopenblas-dev cmake g++ make
          clang-format python3-venv python3-yaml python3-scipy python3-matplotlib python3-jsonschema
          gir1.2-gtk-3.0)  # gir1.2-gtk-3.0: GNU Radio Companion's GUI (not pulled in by gnuradio)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to apt-get install ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Virtual environment ------------------------------------------------------------
if [ ! -x "$py" ]; then
  log "creating .venv (system site packages, for GNU Radio's bindings)"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
stamp="$venv/.srsaoa-requirements"
want="$(cat requirements.txt constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing Python requirements (numpy held at the system version)"
  "$py" -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
  "$py" - <<'PY'
import numpy, sys
if not numpy.__version__.startswith("1."):
    sys.exit(f"bootstrap: numpy {numpy.__version__} in .venv; GNU Radio needs Debian's numpy 1.x")
PY
  echo "$want" >"$stamp"
fi

# 3. Build and install into the venv ----------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
  log "configuring CMake"
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$venv" -DPython3_EXECUTABLE="$py" >/dev/null
fi
log "building"
mkdir -p "$build"
if ! cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1; then
  grep -E 'error|Error' "$build/build.log" | head -n 40 >&2
  echo "bootstrap: build failed, full log in build/build.log" >&2
  exit 1
fi
cmake --install "$build" >/dev/null
"$py" -c "from gnuradio import srsaoa" || { echo "bootstrap: gnuradio.srsaoa does not import from .venv" >&2; exit 1; }
log "ready: .venv/bin/python, .venv/bin/srsaoa; GRC blocks in .venv/share/gnuradio/grc/blocks"
