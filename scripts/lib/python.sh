# The Python reference implementations that some tests compare against (PySAL's esda
# for Gi*). Sourced after scripts/lib/common.sh, which defines ROOT, log and ensure_apt.

# Creates (once) the venv $ROOT/.data/venv with the pinned packages of
# tests/pysal/requirements.txt, and exports SIPKS_PYTHON, its interpreter. Does not
# touch the network when the venv already matches the requirements.
ensure_pysal() {
  # GDAL's command-line tools, the other independent reader of the exports and of the
  # OGC API (tests/export.rs, tests/ogc.rs).
  ensure_apt gdal-bin
  local venv=$ROOT/.data/venv
  local requirements=$ROOT/tests/pysal/requirements.txt
  local stamp=$venv/.sipks-requirements
  if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp"; then
    command -v python3 >/dev/null || ensure_apt python3
    # Debian ships venv (and the pip it bootstraps) separately from python3.
    python3 -c 'import ensurepip, venv' 2>/dev/null || ensure_apt python3-venv
    log "installing PySAL (esda, libpysal) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
  fi
  export SIPKS_PYTHON=$venv/bin/python
}
