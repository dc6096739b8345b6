# The fetches of glue/tests/fetchers.rs: `base` is where the files of
# make-files.sh are served (`file:///…/files` or `http://…/files`), `repos`
# the directory make-repos.sh made. Each attribute is compared with what
# CppNix 2.26 gives (expected.json, see generate.sh).
{ base, repos }:
let
  hello = "${base}/hello.txt";
  repo = "${repos}/repo";
  one = "4688d5cd06761a26636b2eb99c7557c9d71698f1";
  feature = "95e701f73fb21462beadadde57ea5cfcc3350f2e";
  tarball = name: builtins.fetchTarball "${base}/${name}";
  # `--json` would show only the `outPath` of a set that has one.
  described = tree: builtins.removeAttrs tree [ "outPath" ] // { path = tree.outPath; };
  fetchGit = args: described (builtins.fetchGit args);
  fetchTree = args: described (builtins.fetchTree args);
in
{
  fetchurl-string = builtins.fetchurl hello;
  fetchurl-attrs = builtins.fetchurl { url = hello; };
  fetchurl-named = builtins.fetchurl {
    url = hello;
    name = "greeting";
  };
  fetchurl-empty-name-is-base-name = builtins.fetchurl {
    url = hello;
    name = "";
  };
  fetchurl-sha256-nix32 = builtins.fetchurl {
    url = hello;
    sha256 = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq";
  };
  fetchurl-sha256-sri = builtins.fetchurl {
    url = hello;
    sha256 = "sha256-WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=";
  };
  fetchurl-sha256-base16 = builtins.fetchurl {
    url = hello;
    sha256 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
  };
  fetchurl-big = builtins.fetchurl "${base}/big.bin";
  fetchurl-archive-as-file = builtins.fetchurl "${base}/tree.tar.gz";
  fetchurl-context = builtins.getContext (builtins.fetchurl hello);

  fetchTarball-plain = tarball "tree.tar";
  fetchTarball-gzip = tarball "tree.tar.gz";
  fetchTarball-bzip2 = tarball "tree.tar.bz2";
  fetchTarball-xz = tarball "tree.tar.xz";
  fetchTarball-zstd = tarball "tree.tar.zst";
  fetchTarball-several-entries = tarball "multi.tar";
  fetchTarball-single-file = tarball "file.tar";
  fetchTarball-empty = tarball "empty.tar";
  fetchTarball-named = builtins.fetchTarball {
    url = "${base}/tree.tar.xz";
    name = "tree";
  };
  fetchTarball-sha256 = builtins.fetchTarball {
    url = "${base}/tree.tar.gz";
    sha256 = "sha256:18i9gz9aaswdghfc1ifk4dddqmc80aa7xpw30v2fwk9gbydxlc1b";
  };
  fetchTarball-read-through = rec {
    path = tarball "tree.tar.bz2";
    readme = builtins.readFile "${path}/README";
    listing = builtins.readDir path;
    link = builtins.readFileType "${path}/link";
    deep = builtins.readDir "${path}/src/deep";
  };

  fetchGit-path = fetchGit repo;
  fetchGit-path-value = fetchGit (/. + repo);
  fetchGit-url = fetchGit "file://${repo}";
  fetchGit-ref-tag = fetchGit {
    url = repo;
    ref = "v1";
  };
  fetchGit-ref-branch = fetchGit {
    url = repo;
    ref = "feature";
  };
  fetchGit-ref-full = fetchGit {
    url = repo;
    ref = "refs/heads/main";
  };
  fetchGit-rev = fetchGit {
    url = repo;
    rev = one;
  };
  fetchGit-rev-other-branch = fetchGit {
    url = repo;
    rev = feature;
  };
  fetchGit-rev-shallow = fetchGit {
    url = repo;
    rev = one;
    shallow = true;
  };
  fetchGit-named = fetchGit {
    url = repo;
    rev = one;
    name = "named";
  };
  fetchGit-shallow-clone = fetchGit {
    url = "${repos}/shallow";
    ref = "main";
    shallow = true;
  };
  fetchGit-dirty = fetchGit "${repos}/dirty";
  fetchGit-dirty-rev = fetchGit {
    url = "${repos}/dirty";
    rev = one;
  };
  fetchGit-staged-deletion = fetchGit "${repos}/staged";
  fetchGit-no-commits = fetchGit "${repos}/empty";
  fetchGit-read-through = rec {
    path = (builtins.fetchGit repo).outPath;
    f = builtins.readFile "${path}/f";
    listing = builtins.readDir path;
  };

  fetchTree-file = fetchTree {
    type = "file";
    url = hello;
  };
  fetchTree-file-url = fetchTree "file+${hello}";
  fetchTree-file-nar-hash = fetchTree {
    type = "file";
    url = hello;
    narHash = "sha256-HDfQGvQL4ugGkd48w99EN3ppmvuxfGjwgJZLL9Bx/BM=";
  };
  fetchTree-tarball = fetchTree {
    type = "tarball";
    url = "${base}/tree.tar.zst";
  };
  fetchTree-tarball-url = fetchTree "${base}/tree.tar.gz";
  fetchTree-git = fetchTree {
    type = "git";
    url = repo;
  };
  fetchTree-git-rev = fetchTree {
    type = "git";
    url = repo;
    rev = one;
  };
  fetchTree-git-not-shallow = fetchTree {
    type = "git";
    url = repo;
    ref = "v1";
    shallow = false;
  };
  fetchTree-git-url = fetchTree "git+file://${repo}?ref=feature";
  fetchTree-git-dirty = fetchTree {
    type = "git";
    url = "${repos}/dirty";
  };

  # `export-ignore`: fetchGit leaves the paths out, fetchTree keeps them.
  fetchGit-export-ignore = rec {
    tree = fetchGit "${repos}/attributes";
    top = builtins.readDir tree.path;
    sub = builtins.readDir "${tree.path}/sub";
    deep = builtins.readDir "${tree.path}/sub/deep";
  };
  fetchGit-export-ignore-ref = rec {
    tree = fetchGit {
      url = "${repos}/attributes";
      ref = "main";
    };
    top = builtins.readDir tree.path;
    sub = builtins.readDir "${tree.path}/sub";
  };
  fetchGit-export-ignore-off = rec {
    tree = fetchGit {
      url = "${repos}/attributes";
      exportIgnore = false;
    };
    top = builtins.readDir tree.path;
  };
  fetchTree-git-keeps-export-ignored = rec {
    tree = fetchTree {
      type = "git";
      url = "${repos}/attributes";
      ref = "main";
    };
    top = builtins.readDir tree.path;
  };
}
