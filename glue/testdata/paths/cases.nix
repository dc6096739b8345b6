# Store paths of imported trees, and reads through them, that tvix must
# reproduce. `fixture` is the tree make-fixture.sh builds (its name must
# be "fixture"). See generate.sh for how expected.json is made.
{ fixture }:
let
  dir = "${fixture}";
  sub = fixture + "/sub";
  note = builtins.toFile "note.txt" "a note\n";
in
{
  interpolated-dir = "${fixture}";
  interpolated-file = "${fixture + "/file.txt"}";
  interpolated-executable = "${fixture + "/exec.sh"}";
  interpolated-empty-file = "${fixture + "/empty-file"}";
  interpolated-empty-dir = "${fixture + "/empty"}";
  interpolated-symlink = "${fixture + "/link"}";
  interpolated-dangling-symlink = "${fixture + "/dangling"}";
  interpolated-subdir = "${sub}";
  interpolated-in-text = "cp ${fixture + "/file.txt"} $out";

  path-plain = builtins.path { path = fixture; };
  path-named = builtins.path {
    path = fixture;
    name = "renamed";
  };
  path-string = builtins.path { path = toString fixture; };
  path-flat = builtins.path {
    path = fixture + "/file.txt";
    recursive = false;
  };
  path-flat-executable = builtins.path {
    path = fixture + "/exec.sh";
    recursive = false;
  };
  path-recursive-file = builtins.path {
    path = fixture + "/file.txt";
    recursive = true;
  };
  path-sha256-recursive = builtins.path {
    path = sub;
    sha256 = "1slxxg271qng5hyxzyx6f3fpp8mzr36q1q39inys3lkjhj3m2w8z";
  };
  path-sha256-flat = builtins.path {
    path = fixture + "/file.txt";
    recursive = false;
    sha256 = "sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq";
  };
  path-filter-no-symlinks = builtins.path {
    path = fixture;
    filter = _: type: type != "symlink";
  };
  path-filter-only-known-types = builtins.path {
    path = fixture;
    filter = _: type: type == "directory" || type == "regular";
  };
  path-filter-by-name = builtins.path {
    path = fixture;
    name = "filtered";
    filter = path: _: baseNameOf path != "sub" && baseNameOf path != "file.txt";
  };
  path-filter-by-full-path = builtins.path {
    path = fixture;
    filter = path: _: path != "${toString fixture}/sub/nested";
  };
  path-filter-nothing = builtins.path {
    path = fixture;
    filter = _: _: false;
  };
  path-filter-everything = builtins.path {
    path = fixture;
    filter = _: _: true;
  };
  path-filter-file-root = builtins.path {
    path = fixture + "/file.txt";
    filter = _: _: false;
  };
  path-filter-with-sha256 = builtins.path {
    path = sub;
    filter = _: _: true;
    sha256 = "sha256-H3FRh4Ry0qG9jWnggM3Iv6J73XCm+989LM/icMTrneo=";
  };

  filter-source-directories-only = builtins.filterSource (_: type: type == "directory") fixture;
  filter-source-no-hidden = builtins.filterSource (
    path: _: builtins.substring 0 1 (baseNameOf path) != "."
  ) sub;
  filter-source-string = builtins.filterSource (_: _: true) (toString sub);
  filter-source-everything = builtins.filterSource (_: _: true) fixture;

  path-of-store-path = builtins.path {
    path = dir;
    name = "again";
  };
  path-of-store-subpath = builtins.path { path = "${dir}/sub"; };
  path-of-store-path-filtered = builtins.path {
    path = dir;
    name = "filtered-again";
    filter = path: type: type != "symlink" && baseNameOf path != "nested";
  };
  path-of-store-file-flat = builtins.path {
    path = "${dir}/exec.sh";
    recursive = false;
  };
  path-of-store-symlink = builtins.path { path = "${dir}/link"; };
  path-of-to-file-with-references = builtins.path {
    path = builtins.toFile "refers" "${note}";
    name = "copy";
  };
  filter-source-of-store-path = builtins.filterSource (_: type: type == "directory") dir;

  to-file = builtins.toFile "note.txt" "a note\n";
  to-file-with-references = builtins.toFile "refs.txt" "${note} ${fixture + "/file.txt"}";
  to-file-unicode = builtins.toFile "unicode" "ünïcödé ✓\n";

  store-path = builtins.storePath dir;
  store-path-below = builtins.storePath "${dir}/sub/nested";

  read-file = builtins.readFile "${dir}/sub/nested/deep.txt";
  read-file-through-symlink = builtins.readFile "${dir}/link";
  read-file-through-directory-symlink = builtins.readFile "${dir}/dir-link/nested/deep.txt";
  read-file-through-parent-symlink = builtins.readFile "${dir}/sub/up-link";
  read-to-file = builtins.readFile note;
  read-dir = builtins.readDir dir;
  read-dir-sub = builtins.readDir "${dir}/sub";
  read-dir-through-symlink = builtins.readDir "${dir}/dir-link";
  path-exists = map (name: builtins.pathExists "${dir}/${name}") [
    "file.txt"
    "sub/nested"
    "link"
    "dangling"
    "missing"
    "file.txt/below-a-file"
  ];
}
