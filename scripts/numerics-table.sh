#!/bin/sh
# The accuracy table of docs/numerics.md is `floe numerics`'s output, pasted by this script (never by
# hand): the code block after the line "<!-- floe numerics -->".
#   scripts/numerics-table.sh FLOE DOC          rewrite the block (atomically)
#   scripts/numerics-table.sh --check FLOE DOC  exit 1 when the block differs from the output
set -eu
check=0
if [ "$1" = "--check" ]; then check=1; shift; fi
floe=$1 doc=$2
out=$(mktemp) new=$(mktemp)
trap 'rm -f "$out" "$new"' EXIT
"$floe" numerics > "$out"
awk -v table="$out" '
  skip && /^```$/ { skip = 0; print; next }
  skip { next }
  { print }
  marked && /^```$/ { while ((getline l < table) > 0) print l; skip = 1; marked = 0; found = 1; next }
  /^<!-- floe numerics -->$/ { marked = 1 }
  END { if (!found) { print "numerics-table.sh: no \"<!-- floe numerics -->\" block" > "/dev/stderr"; exit 2 } }
' "$doc" > "$new"
if [ "$check" = 1 ]; then
  if ! cmp -s "$doc" "$new"; then
    echo "numerics-table.sh: $doc's accuracy table differs from 'floe numerics' (run scripts/numerics-table.sh $floe $doc):" >&2
    diff "$doc" "$new" >&2 || true
    exit 1
  fi
  exit 0
fi
cat "$new" > "$doc.tmp.$$" && mv "$doc.tmp.$$" "$doc"
