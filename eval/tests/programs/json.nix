# JSON round trips: configurations written with toJSON and read back with
# fromJSON, escapes, numbers, nesting, and a pretty printer written in Nix.
let
  lib = import ./lib;
  inherit (lib) concatMapStringsSep replicate mapAttrsToList;

  config = {
    name = "service";
    version = "1.2.3";
    enabled = true;
    ratio = 0.25;
    retries = 3;
    tags = [ "web" "prod" ];
    nested = { empty = { }; list = [ 1 [ 2 [ 3 ] ] { deep = null; } ]; };
    text = "line 1\nline 2\t\"quoted\" \\ back / slash é ✓";
  };

  # A pretty printer with two-space indentation, keys sorted.
  pretty = indent: v:
    let
      pad = replicate indent "  ";
      inner = replicate (indent + 1) "  ";
    in
    if builtins.isAttrs v then
      if v == { } then "{}"
      else "{\n" + concatMapStringsSep ",\n" (n: "${inner}${builtins.toJSON n}: ${pretty (indent + 1) v.${n}}") (builtins.attrNames v) + "\n${pad}}"
    else if builtins.isList v then
      if v == [ ] then "[]"
      else "[\n" + concatMapStringsSep ",\n" (x: "${inner}${pretty (indent + 1) x}") v + "\n${pad}]"
    else builtins.toJSON v;

  json = builtins.toJSON config;
  parsed = builtins.fromJSON json;
  prettyText = pretty 0 config;
in
{
  inherit json;
  roundTrip = parsed == config;
  prettyRoundTrip = builtins.fromJSON prettyText == config;
  pretty = prettyText;
  numbers = builtins.fromJSON "[0, -1, 1.5, 1e2, -2.5E-3, 9007199254740993, 1.0]";
  numberTypes = map builtins.typeOf (builtins.fromJSON "[1, 1.0, 1e0, -0]");
  escapes = builtins.fromJSON ''"\u00e9\u2713 \ud83d\ude00 \n\t\/\\\""'';
  toJsonEscapes = builtins.toJSON (builtins.fromJSON "\"\\u0001\\u001f\\u007f\"");
  objectsSorted = builtins.toJSON (builtins.fromJSON ''{"z": 1, "a": {"c": 2, "b": 3}}'');
  duplicateKeysLastWins = builtins.fromJSON ''{"a": 1, "a": 2}'';
  withToString = builtins.toJSON { path = { __toString = self: "custom"; }; drv = { outPath = "/nix/store/x"; type = "derivation"; }; };
  deep = builtins.toJSON (builtins.foldl' (acc: n: { "level${toString n}" = acc; }) "bottom" (lib.range 1 50));
  deepBack = (builtins.fromJSON (builtins.toJSON (builtins.foldl' (acc: n: [ acc ]) "bottom" (lib.range 1 200)))) != null;
  manifest = builtins.toJSON (mapAttrsToList (name: value: { inherit name; size = builtins.stringLength (builtins.toJSON value); }) config);
}
