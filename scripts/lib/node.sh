# Node.js and the npm project in web/ (the web map and its build, the MapLibre style
# validator, the label glyphs, the browser test's playwright-core). Sourced after scripts/lib/common.sh, which defines ROOT, log and
# ensure_apt.

# Installs Debian's nodejs and npm when there is no node, then the pinned packages of
# web/package-lock.json (npm ci) when web/node_modules is missing or older than the lock.
# Does not touch the network when both are already there.
ensure_node() {
  local web=$ROOT/web
  command -v node >/dev/null || ensure_apt nodejs npm
  if [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules" ]; then
    command -v npm >/dev/null || ensure_apt npm
    log "installing the npm packages of web/ (npm ci)"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
    # npm ci may leave the directory's time older than the lock it installed.
    touch "$web/node_modules"
  fi
}

# Builds the web map into web/dist (npm run build) when it is missing or older than its
# sources or the lock; the server serves web/dist at /.
ensure_web_build() {
  ensure_node
  local web=$ROOT/web
  if [ ! -f "$web/dist/index.html" ] ||
    [ -n "$(find "$web/src" "$web/build.mjs" "$web/package-lock.json" -newer "$web/dist/index.html" -print -quit)" ]; then
    log "building the web map (npm run build in web/)"
    (cd "$web" && npm run --silent build)
  fi
}
