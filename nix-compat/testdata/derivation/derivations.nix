# Derivations for the golden files; see generate.sh. Plain builtins.derivation,
# no nixpkgs, so that nix-instantiate alone reproduces them. Nothing is built.
let
  system = "x86_64-linux";
  mk = attrs: derivation ({ inherit system; builder = "/bin/sh"; } // attrs);
  fod = name: algo: mode: hash: mk {
    inherit name;
    args = [ "-c" "echo ${name} > $out" ];
    outputHashAlgo = algo;
    outputHashMode = mode;
    outputHash = hash;
  };
in
rec {
  simple = mk {
    name = "simple";
    args = [ "-c" "echo hello > $out" ];
  };

  multiple-outputs = mk {
    name = "multiple-outputs";
    outputs = [ "out" "dev" "lib" ];
    args = [ "-c" "mkdir $out $dev $lib" ];
  };

  # Hashes are those of the empty string; nothing is built, only the
  # output paths are computed from them.
  fod-flat-sha256 = fod "fod-flat-sha256" "sha256" "flat"
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  fod-recursive-sha256 = fod "fod-recursive-sha256" "sha256" "recursive"
    "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
  fod-flat-sha1 = fod "fod-flat-sha1" "sha1" "flat"
    "da39a3ee5e6b4b0d3255bfef95601890afd80709";
  fod-recursive-sha1 = fod "fod-recursive-sha1" "sha1" "recursive"
    "da39a3ee5e6b4b0d3255bfef95601890afd80709";
  fod-flat-md5 = fod "fod-flat-md5" "md5" "flat"
    "d41d8cd98f00b204e9800998ecf8427e";
  fod-recursive-sha512 = fod "fod-recursive-sha512" "sha512" "recursive"
    "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==";

  # Depends on another derivation's default and non-default outputs, and on
  # a derivation that itself depends on one.
  with-input-drvs = mk {
    name = "with-input-drvs";
    args = [ "-c" "echo ${multiple-outputs.dev} ${simple} > $out" ];
    inherit (multiple-outputs) lib;
  };
  chained = mk {
    name = "chained";
    args = [ "-c" "cat ${with-input-drvs} > $out" ];
  };

  # hash_derivation_modulo replaces a fixed-output input by its fixed hash.
  with-fod-input = mk {
    name = "with-fod-input";
    src = fod-recursive-sha256;
    other = fod-flat-sha1;
    args = [ "-c" "cp -r $src $out" ];
  };

  # Two fixed-output inputs with the same output path have the same
  # hash_derivation_modulo, so their output names merge into one entry when
  # input derivations are replaced by those hashes.
  fod-flat-sha256-twin = fod "fod-flat-sha256" "sha256" "flat"
    "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  with-twin-fod-inputs = mk {
    name = "with-twin-fod-inputs";
    a = fod-flat-sha256;
    b = fod-flat-sha256-twin;
    args = [ "-c" "cat $a $b > $out" ];
  };

  input-sources = mk {
    name = "input-sources";
    src = ./input-source.txt;
    args = [ "-c" "cp ${./input-source.txt} $out" ];
  };

  unicode = mk {
    name = "unicode";
    greeting = "ü, 日本, emoji 🦀";
    args = [ "-c" "echo 'grüße 🦀' > $out" ];
  };

  escapes = mk {
    name = "escapes";
    newline = "a\nb";
    tab = "a\tb";
    quote = "a\"b";
    backslash = "a\\b";
    carriage = "a\rb";
    dollar = "a$b \${c} $$d";
    mixed = "line 1\n\t\"quoted\" \\ back\r\n";
    args = [ "-c" "printf '%s\\n' \"$newline\" > $out" ];
  };

  args-with-quotes = mk {
    name = "args-with-quotes";
    args = [ "-c" "echo \"double\" 'single' \\\"escaped\\\" > $out" "" "\"" ];
  };

  structured-attrs = mk {
    name = "structured-attrs";
    __structuredAttrs = true;
    outputs = [ "out" "bin" ];
    nested = { list = [ 1 "two" true null ]; float = 1.5; };
    text = "ü\n\"quoted\"";
    args = [ "-c" "true" ];
  };

  # Env values are bytes, not necessarily UTF-8 (generate.sh writes the file).
  non-utf8 = mk {
    name = "non-utf8";
    bytes = builtins.readFile ./non-utf8.bin;
  };

  empty-value = mk {
    name = "empty-value";
    empty = "";
    args = [ "-c" "echo \"[$empty]\" > $out" ];
  };
}
