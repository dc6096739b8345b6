#!/usr/bin/env bash
# Makes the git repositories glue/tests/fetchers.rs fetches, below $1:
# `bash make-repos.sh DIR`. Identities, dates and contents are fixed, so
# the commits are the same on every machine.
#
#   repo      main: "one" (2020-01-01), tagged v1, then "two" (a later
#             committer date than author date); branch `feature` off "one"
#             with a commit of its own; a file, an executable, a symlink,
#             nested directories
#   dirty     a clone of repo with a tracked file changed, a new file
#             added to the index and an untracked file
#   staged    a clone of repo with a tracked file deleted from the index
#   empty     a repository without commits
#   shallow   a clone of repo with only its last commit
#   bare.git  a bare clone of repo
#   attributes  files with and without the `export-ignore` attribute, from
#             .gitattributes at the top and below, and info/attributes
set -euo pipefail
dir=$1
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=tvix GIT_AUTHOR_EMAIL=tvix@example.org
export GIT_COMMITTER_NAME=tvix GIT_COMMITTER_EMAIL=tvix@example.org
git() { command git -c init.defaultBranch=main -c advice.detachedHead=false "$@"; }
commit() {
  GIT_AUTHOR_DATE=$1 GIT_COMMITTER_DATE=$2 git commit -q -m "$3"
}

git init -q "$dir/repo"
cd "$dir/repo"
printf 'hi\n' > f
mkdir -p d/e
printf 'x\n' > d/g
printf 'deep\n' > d/e/h
chmod 755 d/g
ln -s f l
git add .
commit 2020-01-01T00:00:00Z 2020-01-01T00:00:00Z one
git tag v1
git checkout -q -b feature
printf 'feature\n' > feature.txt
git add feature.txt
commit 2020-06-01T00:00:00Z 2020-06-01T00:00:00Z feature
git checkout -q main
printf 'two\n' > f2
git add f2
commit 2021-01-01T00:00:00Z 2021-02-03T04:05:06Z two

git clone -q "$dir/repo" "$dir/dirty"
cd "$dir/dirty"
printf 'changed\n' >> f
printf 'new\n' > added
git add added
printf 'untracked\n' > untracked

git clone -q "$dir/repo" "$dir/staged"
cd "$dir/staged"
git rm -q --cached f2

git init -q "$dir/empty"
git clone -q --depth 1 "file://$dir/repo" "$dir/shallow"
git clone -q --bare "$dir/repo" "$dir/bare.git"

git init -q "$dir/attributes"
cd "$dir/attributes"
mkdir -p docs sub/deep
for f in keep secret x.log sub/y.log docs/d sub/deep/secret sub/keep.txt valued readme.log; do
  printf '%s\n' "$f" > "$f"
done
printf 'secret export-ignore\n*.log export-ignore\n/docs export-ignore\nvalued export-ignore=yes\nreadme.log -export-ignore\n' > .gitattributes
printf 'keep.txt export-ignore\n' > sub/.gitattributes
git add .
commit 2022-01-01T00:00:00Z 2022-01-01T00:00:00Z attributes
printf 'valued export-ignore\n' > .git/info/attributes
