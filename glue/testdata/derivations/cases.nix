# Derivations whose .drv files, paths and references tvix must reproduce
# byte for byte. `fixture` is the tree make-fixture.sh builds (its name
# must be "fixture"). See generate.sh for how the golden files are made.
{ fixture }:
let
  mk =
    attrs:
    derivation (
      {
        builder = "/bin/sh";
        system = "x86_64-linux";
      }
      // attrs
    );

  # Dependencies, shared by several cases.
  leaf = mk {
    name = "leaf";
    args = [ "leaf" ];
  };
  multi = mk {
    name = "multi";
    outputs = [
      "out"
      "dev"
      "lib"
    ];
  };
  fod = mk {
    name = "fod-dep";
    outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  };
  # Same output as `fod`, fetched differently: dependents cannot tell.
  fodTwin = mk {
    name = "fod-dep";
    outputHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    outputHashAlgo = "sha256";
    args = [ "another way" ];
  };
  chain =
    n:
    if n == 0 then
      leaf
    else
      mk {
        name = "chain-${toString n}";
        dep = chain (n - 1);
      };
  note = builtins.toFile "note.txt" "a note\n";
  noteWithRef = builtins.toFile "note-ref.txt" "see ${note}\n";

  fixed =
    name: attrs:
    mk (
      {
        inherit name;
      }
      // attrs
    );
in
{
  plain = mk { name = "plain"; };

  no-args-builder-path = derivation {
    name = "builder-path";
    builder = "${fixture}/exec.sh";
    system = "x86_64-linux";
  };

  args = mk {
    name = "args";
    args = [
      "-c"
      "echo \"hi\""
      1
      true
      false
      null
      1.5
      [
        "a"
        [ "b" ]
      ]
    ];
  };

  env-types = mk {
    name = "env-types";
    int = 42;
    negative = -7;
    float = 0.25;
    yes = true;
    no = false;
    nothing = null;
    list = [
      "a"
      1
      [
        "nested"
        null
      ]
      [ ]
      "z"
    ];
    empty = "";
  };

  multiple-outputs = mk {
    name = "multiple-outputs";
    outputs = [
      "out"
      "bin"
      "dev"
      "man"
    ];
  };

  unsorted-outputs = mk {
    name = "unsorted-outputs";
    outputs = [
      "z"
      "a"
      "out"
    ];
  };

  first-output-not-out = mk {
    name = "first-output-not-out";
    outputs = [
      "lib"
      "out"
    ];
  };

  fod-flat-sha256-base16 = fixed "fod" {
    outputHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    outputHashAlgo = "sha256";
  };
  fod-flat-sha256-nix32 = fixed "fod" {
    outputHash = "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
    outputHashAlgo = "sha256";
  };
  fod-flat-sha256-base64 = fixed "fod" {
    outputHash = "sha256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  };
  fod-flat-sha256-sri = fixed "fod" {
    outputHash = "sha256-gKwG10y2xdFK9xjOjDwSVZaaGllbdqPPkjVKlTMah5o=";
  };
  fod-flat-sha256-prefixed-nix32 = fixed "fod" {
    outputHash = "sha256:16l738rrajimjb7s6xjvb4d9m5jm28y8rkhqyx5d3idn9kbhdb40";
    outputHashMode = "flat";
  };
  fod-flat-sha1-base16 = fixed "fod-sha1" {
    outputHash = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    outputHashAlgo = "sha1";
  };
  fod-flat-sha1-nix32 = fixed "fod-sha1" {
    outputHash = "sha1:svrwxn6jj2gvj0inbfh8l79jc77iillb";
  };
  fod-flat-sha1-sri = fixed "fod-sha1" {
    outputHash = "sha1-i9IYz2EyHYqgWzYCuZ+Q0tjO89Y=";
  };
  fod-flat-md5-base16 = fixed "fod-md5" {
    outputHash = "d41d8cd98f00b204e9800998ecf8427e";
    outputHashAlgo = "md5";
  };
  fod-flat-md5-nix32 = fixed "fod-md5" {
    outputHash = "4qw53ih47c2mszpkx4xas181la";
    outputHashAlgo = "md5";
  };
  fod-flat-md5-sri = fixed "fod-md5" {
    outputHash = "md5-1B2M2Y8AsgTpgAmY7PhCfg==";
  };
  fod-flat-sha512-base16 = fixed "fod-sha512" {
    outputHash = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
    outputHashAlgo = "sha512";
  };
  fod-flat-sha512-sri = fixed "fod-sha512" {
    outputHash = "sha512-DtrFE7awRUcFtVPe2kybBV2gk50m0vc1SIYoF+vqxTeM9k/3p1LOGgWQpzZzXTu9nop/BNk2F831FDE/WrW6pA==";
  };
  fod-recursive-sha256-sri = fixed "fod-r" {
    outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    outputHashMode = "recursive";
  };
  fod-recursive-sha256-nix32 = fixed "fod-r" {
    outputHash = "16l738rrajimjb7s6xjvb4d9m5jm28y8rkhqyx5d3idn9kbhdb40";
    outputHashAlgo = "sha256";
    outputHashMode = "recursive";
  };
  fod-recursive-sha1-nix32 = fixed "fod-r-sha1" {
    outputHash = "143xibwh31h9bvxzalr0sjvbbvpa6ffs";
    outputHashAlgo = "sha1";
    outputHashMode = "recursive";
  };
  fod-recursive-md5-base64 = fixed "fod-r-md5" {
    outputHash = "md5:igYUtOqkz/t1FewQGEfhmA==";
    outputHashMode = "recursive";
  };
  fod-recursive-sha512-nix32 = fixed "fod-r-sha512" {
    outputHash = "sha512:0zdl9zrg8r3i9c1g90lgg9ip5ijzv3yhz91i0zzn3r8ap9ws784gkp9dk9j3aglhgf1amqb0pj21mh7h1nxcl18akqvvf7ggqsy30yg";
    outputHashMode = "recursive";
  };
  fod-empty-hash = fixed "fod-empty" {
    outputHash = "";
    outputHashAlgo = "sha1";
  };
  fod-with-inputs = fixed "fod-inputs" {
    outputHash = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    src = "${fixture}/file.txt";
    dep = leaf;
  };

  structured-attrs = mk {
    name = "structured-attrs";
    __structuredAttrs = true;
    string = "text";
    int = 3;
    float = 1.5;
    bools = [
      true
      false
    ];
    nothing = null;
    nested = {
      a.b.c = [
        1
        "two"
        { three = 3; }
      ];
      "key with \"quotes\"" = "value\twith\ncontrol\u0001chars";
    };
    unicode = "héllo wörld ✓ 日本";
    dep = leaf;
    src = fixture + "/file.txt";
    outputs = [
      "out"
      "dev"
    ];
    args = [ "args stay out of __json" ];
  };

  structured-attrs-ignore-nulls = mk {
    name = "structured-attrs-ignore-nulls";
    __structuredAttrs = true;
    __ignoreNulls = true;
    kept = "yes";
    dropped = null;
    nested = {
      stays = null;
    };
  };

  structured-attrs-empty = mk {
    name = "structured-attrs-empty";
    __structuredAttrs = true;
  };

  structured-attrs-false = mk {
    name = "structured-attrs-false";
    __structuredAttrs = false;
  };

  ignore-nulls = mk {
    name = "ignore-nulls";
    __ignoreNulls = true;
    kept = "yes";
    dropped = null;
    empty = "";
  };

  pass-as-file = mk {
    name = "pass-as-file";
    passAsFile = [
      "big"
      "other"
    ];
    big = "lots of text";
    other = "more";
  };

  legacy-checks = mk {
    name = "legacy-checks";
    allowedReferences = [ ];
    disallowedReferences = [ leaf ];
    allowedRequisites = [ "out" ];
    maxSize = 1234;
    maxClosureSize = 12345;
  };

  ca-and-impure-false = mk {
    name = "ca-and-impure-false";
    __contentAddressed = false;
    __impure = false;
  };

  context-plain-path = mk {
    name = "context-plain-path";
    src = fixture;
    file = "${fixture}/sub/nested/deep.txt";
  };

  context-path-values = mk {
    name = "context-path-values";
    srcs = [
      (fixture + "/file.txt")
      (fixture + "/exec.sh")
      (fixture + "/empty")
    ];
  };

  context-to-file = mk {
    name = "context-to-file";
    inherit note noteWithRef;
  };

  context-single-output = mk {
    name = "context-single-output";
    dep = leaf;
    cmd = "${leaf}/bin/leaf";
  };

  context-other-outputs = mk {
    name = "context-other-outputs";
    dev = multi.dev;
    lib = "${multi.lib}/lib";
  };

  context-all-outputs = mk {
    name = "context-all-outputs";
    inherit (multi) all;
  };

  context-drv-path = mk {
    name = "context-drv-path";
    drv = (chain 3).drvPath;
  };

  context-drv-path-with-sources = mk {
    name = "context-drv-path-with-sources";
    drv =
      (mk {
        name = "with-sources";
        inherit note;
        src = fixture + "/sub";
        dep = multi.dev;
      }).drvPath;
  };

  context-mixed = mk {
    name = "context-mixed";
    everything = "${leaf} ${multi.dev} ${note} ${fixture}/file.txt ${(chain 1).drvPath}";
  };

  builder-from-dependency = derivation {
    name = "builder-from-dependency";
    builder = "${multi.out}/bin/sh";
    system = "x86_64-linux";
    args = [ "${leaf}" ];
  };

  nested-chain = chain 5;

  diamond = mk {
    name = "diamond";
    left = mk {
      name = "left";
      dep = leaf;
    };
    right = mk {
      name = "right";
      dep = leaf;
      other = multi.lib;
    };
  };

  fod-input = mk {
    name = "fod-input";
    inherit fod;
  };

  twin-fod-inputs = mk {
    name = "twin-fod-inputs";
    inherit fod fodTwin;
  };

  placeholder = mk {
    name = "placeholder";
    outputs = [
      "out"
      "dev"
    ];
    outRef = placeholder "out";
    devRef = "${placeholder "dev"}/include";
  };

  unicode-values = mk {
    name = "unicode-values";
    greeting = "héllo wörld ✓ 日本 🎉";
    args = [ "ünïcödé" ];
  };

  escapes = mk {
    name = "escapes";
    quotes = "\"quoted\" and 'single'";
    backslashes = "a\\b\\\\c";
    whitespace = "tab\there\nnewline\r\ncrlf";
    dollar = "\${not interpolated} $HOME";
  };

  non-utf8-value = mk {
    name = "non-utf8-value";
    bytes = builtins.readFile (fixture + "/non-utf8.bin");
  };

  odd-attribute-names = mk {
    name = "odd-attribute-names";
    "with space" = "1";
    "dotted.name" = "2";
    "dash-name" = "3";
    "" = "empty name";
    "ünï" = "4";
  };

  large-environment = mk (
    {
      name = "large-environment";
      huge = builtins.concatStringsSep "," (builtins.genList toString 100000);
    }
    // builtins.listToAttrs (
      builtins.genList (i: {
        name = "var${toString i}";
        value = "value ${toString i}";
      }) 2000
    )
  );

  many-inputs = mk {
    name = "many-inputs";
    deps = builtins.genList (
      i:
      mk {
        name = "input-${toString i}";
        index = i;
      }
    ) 50;
  };

  dotted-name = mk { name = ".hidden-1.0"; };

  long-name = mk { name = builtins.concatStringsSep "" (builtins.genList (_: "x") 207); };

  drv-path-of-fod = mk {
    name = "drv-path-of-fod";
    drv = fod.drvPath;
  };

  to-file-in-structured-attrs = mk {
    name = "to-file-in-structured-attrs";
    __structuredAttrs = true;
    files = [
      note
      noteWithRef
    ];
  };

  # `<nix/fetchurl.nix>`, CppNix's corepkg, in each of its forms.
  fetchurl-corepkg-sha256 = import <nix/fetchurl.nix> {
    url = "https://example.com/hello.txt";
    sha256 = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq";
  };
  fetchurl-corepkg-hash-sri = import <nix/fetchurl.nix> {
    url = "https://example.com/hello.txt";
    hash = "sha256-WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=";
  };
  fetchurl-corepkg-sha512 = import <nix/fetchurl.nix> {
    url = "https://example.com/hello.txt";
    sha512 = "e7c22b994c59d9cf2b48e549b1e24666636045930d3da7c1acb299d1c3b7f931f94aae41edda2c2b207a36e10f8bcb8d45223e54878f5b316e7ce3b6bc019629";
  };
  fetchurl-corepkg-sha1 = import <nix/fetchurl.nix> {
    url = "https://example.com/hello.txt";
    sha1 = "f572d396fae9206628714fb2ce00f72e94f2258f";
  };
  fetchurl-corepkg-md5 = import <nix/fetchurl.nix> {
    url = "https://example.com/hello.txt";
    md5 = "b1946ac92492d2347c6235b4d2611184";
  };
  fetchurl-corepkg-output-hash = import <nix/fetchurl.nix> {
    url = "https://example.com/hello.txt";
    outputHash = "sha256-WJG1tSLV3whtD/CxEPvZ0hu0/HFjrzTQgoai6Eb2vgM=";
    outputHashAlgo = "";
  };
  fetchurl-corepkg-executable = import <nix/fetchurl.nix> {
    url = "https://example.com/run.sh";
    sha256 = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq";
    executable = true;
  };
  fetchurl-corepkg-unpack = import <nix/fetchurl.nix> {
    url = "https://example.com/source.tar.gz";
    sha256 = "sha256-KzDam18vTe7EBoPffpQCiFXcWiPTxcAcfI1rpdJ/KaI=";
    unpack = true;
  };
  fetchurl-corepkg-named = import <nix/fetchurl.nix> {
    url = "https://example.com/hello.txt";
    sha256 = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq";
    name = "greeting";
    system = "x86_64-linux";
  };
  fetchurl-corepkg-query-in-name = import <nix/fetchurl.nix> {
    url = "https://example.com/get?file=a.tar.gz";
    sha256 = "00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq";
  };
}
