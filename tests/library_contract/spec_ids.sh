#!/usr/bin/env bash
# library.md A7: every rule id that a test, a header, the README or the docs name resolves to
# a definition in the repository's own behaviour contract, docs/spec/*.md. A definition is an
# id that opens a list item, a bold run or a heading there ("- D1.4 …", "- **S1.3** …",
# "**D9 — Window**"); a named id resolves when it is defined, or when ids under it are (D6
# for D6.1 …). Ids are a capital of a prefix the contract uses, then numbers: D1.4, S5.1, A1.2.
#   spec_ids.sh REPOSITORY_ROOT
set -u
root=${1:-.}
cd "$root" || exit 2
[[ -d docs/spec ]] || { echo "FAIL: no docs/spec/ in $root" >&2; exit 1; }

defined=$(grep -ohE '^[[:space:]]*(- |#+ )?\**[A-Z][0-9]+(\.[0-9]+)*' docs/spec/*.md |
          sed -E 's/^[[:space:]]*(- |#+ )?\**//' | sort -u)
prefixes=$(sed -E 's/[0-9.]+$//' <<<"$defined" | sort -u | tr -d '\n')
[[ -n $prefixes ]] || { echo "FAIL: docs/spec/ defines no rule id" >&2; exit 1; }

# Where ids are named: sources, scripts and prose; not the fixtures and golden outputs. Not an
# id: a spreadsheet cell ("!A0", a formula-injection test) or a byte range ("F5..FF").
named=$(grep -rnoP "(?<![!\w])[$prefixes][0-9]+(\.[0-9]+)*\b(?!\.\.)" tests include README.md docs \
          --include='*.cpp' --include='*.hpp' --include='*.md' --include='*.txt' \
          --include='*.cmake' --include='*.sh' --include='*.py' \
          --exclude-dir=data --exclude-dir=golden)

declare -A known=()
for id in $defined; do
  known[$id]=1
  parent=$id
  while [[ $parent == *.* ]]; do parent=${parent%.*}; known[$parent]=1; done
done

status=0 checked=0
while IFS= read -r hit; do
  [[ -z $hit ]] && continue
  id=${hit##*:}
  checked=$((checked + 1))
  if [[ -z ${known[$id]:-} ]]; then
    echo "unresolved: $hit" >&2
    status=1
  fi
done <<<"$named"
echo "$checked rule id mentions checked against $(wc -w <<<"$defined") definitions in docs/spec/"
exit $status
