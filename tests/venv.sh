# Sourced by the test scripts that run Python: ensure_venv VENV PYTHON REQUIREMENTS IMPORTS
# makes sure the venv at VENV exists (created with PYTHON) and has REQUIREMENTS installed,
# reinstalling when the file changes (a sha256 stamp in the venv) or when `import IMPORTS`
# fails. Quick when nothing changed. Needs a `log` function.
ensure_venv() {
    local venv=$1 boot=$2 reqs=$3 imports=$4
    if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        log "creating venv at $venv"
        rm -rf "$venv"
        mkdir -p "$(dirname "$venv")"
        "$boot" -m venv "$venv"
    fi
    local stamp="$venv/.cairn-$(basename "$(dirname "$reqs")")-requirements.sha256"
    local want
    want="$(sha256sum "$reqs" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ] \
       || ! "$venv/bin/python" -c "import $imports" >/dev/null 2>&1; then
        log "installing $reqs"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$reqs"
        echo "$want" > "$stamp"
    fi
}
