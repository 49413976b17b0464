#!/usr/bin/env bash
# Checks that the C and C++ lines a change touches follow .clang-format (the house style). Only the
# changed lines are held to it: the tree as a whole is not reformatted.
# Usage: scripts/format-check.sh [BASE]
#   BASE  the commit to compare the work tree with (committed and uncommitted changes both count);
#         default: the merge-base with `main` when HEAD is not on main itself, else HEAD~1.
# Exits 1 with the diff clang-format would apply when a changed line is not formatted; exits 0, with
# a message, when there is nothing to compare with (no git work tree, or a first or shallow commit).
# Fix the lines with `git clang-format BASE`. An untracked file is not seen: `git add -N FILE` first.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "format-check: skipped (not a git work tree)"
  exit 0
fi
if ! command -v git-clang-format >/dev/null 2>&1 && ! git clang-format -h >/dev/null 2>&1; then
  echo "format-check: git clang-format not found (install clang-format: scripts/setup.sh)" >&2
  exit 1
fi

base="${1:-}"
if [ -z "$base" ]; then
  mb=""
  if git rev-parse -q --verify main^{commit} >/dev/null; then mb=$(git merge-base main HEAD 2>/dev/null || true); fi
  if [ -n "$mb" ] && [ "$mb" != "$(git rev-parse HEAD)" ]; then base=$mb; else base=HEAD~1; fi
fi
if ! git rev-parse -q --verify "$base^{commit}" >/dev/null; then
  echo "format-check: skipped ($base does not exist here: a first commit or a shallow clone)"
  exit 0
fi

out=$(git clang-format --diff --extensions c,h,cpp "$base" --)
if printf '%s\n' "$out" | grep -q '^diff '; then
  printf '%s\n' "$out"
  echo "format-check: FAILED: the lines above, changed since $(git rev-parse --short "$base"), are not formatted" \
       "as .clang-format says (fix them with: git clang-format $base)" >&2
  exit 1
fi
echo "format-check: the C/C++ lines changed since $(git rev-parse --short "$base") are formatted: 1 passed, 0 failed"
